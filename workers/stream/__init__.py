"""`finsent worker stream`: faust-streaming agents that turn `news.enriched` and `alerts.events`
into watchlist notices (`alerts.watchlists`), delivered through the webhook outbox."""
