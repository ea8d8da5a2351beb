"""Rules engine and notifiers: negative-sentiment spikes within a topic, signed webhooks."""
