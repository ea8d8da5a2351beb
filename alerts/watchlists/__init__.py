"""Watchlists: per-article notices on tickers, entity names and topics (`docs/watchlists.md`).

`model` (what a watchlist is), `sentiment` (the headline's or an entity's own), `matcher` (the
index, and the brute-force reference), `policy` (quiet hours, receivers, rate limit), `payloads`
(`watchlist.match` / `watchlist.alert`, JSON and Slack), `notices` (into the outbox, once),
`store` (the tables, revisions), `processor` (the transport-free step of the stream worker).
"""
