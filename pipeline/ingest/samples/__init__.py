"""Bundled sample data (invented headlines, example.com URLs) for the demo and the tests.

`news.jsonl` holds 62 lines: 55 unique items, 3 exact duplicates (same URL, one with tracking
parameters), 2 title duplicates from another source, and 2 invalid items (no title; an unreadable
date). Ingesting it gives `{"ingested": 62, "produced": 55, "deduplicated": 5, "dlq": 2}`.
`feed.rss` (5 items) and `feed.atom` (4 entries) are for the feed tests.
"""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
NEWS_JSONL = SAMPLES_DIR / "news.jsonl"
FEED_RSS = SAMPLES_DIR / "feed.rss"
FEED_ATOM = SAMPLES_DIR / "feed.atom"
