"""Read queries of the HTTP API over articles, enrichments and entities (Postgres and SQLite).

- `scope`: which model version a read shows and the event-time "now" it is read at;
- `cursor`: opaque keyset cursors for newest-first listings;
- `sql`: dialect helpers (epoch seconds, bucketing);
- `articles`: the article list (filters, search, keyset pages) and one article in full;
- `search`: full-text search (Postgres `tsvector` + GIN index) or LIKE on SQLite;
- `topics`: every topic's window vs baseline and a negative-share sparkline;
- `timeline`: one topic's counts per time bucket;
- `entities`: the tickers and entities sliding most.

Every function takes an open `Connection` and returns pydantic models (`models`), the shapes the
API serves. Alert events, rules, silences and deliveries are read by `alerts.read`.
"""
