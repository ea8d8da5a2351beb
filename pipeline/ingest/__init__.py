"""Ingest: news sources -> `RawNews` on `news.raw` (invalid items -> `news.dlq`).

The core is pure and transport-free:

- `normalize.normalize(item, source=, default_tz=, now=)` -> `RawNews` or `InvalidItem`;
- `dedup.Deduplicator.check(raw)` -> `DedupVerdict`;
- `publisher.IngestPublisher` routes one item: normalise -> dedup -> produce / DLQ / count.

Transports live in `sources/` (feeds, archives, stdin, HTTP push); process lifecycles live in
`workers/commands/ingest.py`.
"""
