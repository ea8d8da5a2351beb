"""Library code with no process loops: config, Kafka I/O, storage, the news model."""
