"""The idempotent writer on SQLite and Postgres: replays change nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from pipeline.db import (
    Article,
    Enrichment,
    Entity,
    MissingArticleError,
    StoreResult,
    count_rows,
    existing_enrichment_ids,
    store_articles,
    store_batch,
    writer,
)
from pipeline.db.models import TABLES
from schemas import EnrichedNews, EntityMention, RawNews, SentimentProbs

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)
VERSION = "finsent-test-1"


def article(i: int, **fields: object) -> RawNews:
    values: dict[str, object] = {
        "id": f"news{i:08d}",
        "source": "test",
        "url": f"https://example.com/news/{i}",
        "title": f"Headline {i}",
        "body": f"Body {i}",
        "published_at": T0 + timedelta(minutes=i),
        "tickers": ("ACME",),
        "ingested_at": T0 + timedelta(minutes=i, seconds=5),
    }
    return RawNews.model_validate({**values, **fields})


def enrichment(i: int, version: str = VERSION, entities: int = 2) -> EnrichedNews:
    return EnrichedNews(
        news_id=f"news{i:08d}",
        model_version=version,
        published_at=T0 + timedelta(minutes=i),
        topic="earnings",
        topic_score=0.9,
        sentiment="positive",
        sentiment_probs=SentimentProbs(negative=0.1, neutral=0.2, positive=0.7),
        sentiment_score=0.6,
        entities=tuple(
            EntityMention(
                text=f"Acme{k}", label="ORG", start=10 * k, end=10 * k + 5, confidence=0.8, ticker="ACME"
            )
            for k in range(entities)
        ),
        processed_at=T0 + timedelta(hours=1),
    )


def batch(ids: Sequence[int]) -> tuple[list[RawNews], list[EnrichedNews]]:
    return [article(i) for i in ids], [enrichment(i) for i in ids]


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            "articles": [tuple(r) for r in conn.execute(select(Article.__table__).order_by(Article.id))],
            "enrichments": [
                tuple(r) for r in conn.execute(select(Enrichment.__table__).order_by(Enrichment.id))
            ],
            "entities": [tuple(r) for r in conn.execute(select(Entity.__table__).order_by(Entity.id))],
        }


def test_same_batch_twice_leaves_same_rows(db_engine: Engine) -> None:
    first = store_batch(db_engine, *batch(range(3)))
    before = snapshot(db_engine)
    second = store_batch(db_engine, *batch(range(3)))

    assert first == StoreResult(articles_inserted=3, enrichments_inserted=3, entities_inserted=6)
    assert second == StoreResult(0, 0, 0)
    assert snapshot(db_engine) == before


def test_partial_overlap_adds_only_new_rows(db_engine: Engine) -> None:
    store_batch(db_engine, *batch(range(0, 4)))
    result = store_batch(db_engine, *batch(range(2, 7)))

    assert result == StoreResult(articles_inserted=3, enrichments_inserted=3, entities_inserted=6)
    counts = count_rows(db_engine)
    assert (counts["articles"], counts["enrichments"], counts["entities"]) == (7, 7, 14)


def test_entities_are_stored_once_per_enrichment(db_engine: Engine) -> None:
    store_batch(db_engine, [article(1)], [enrichment(1, entities=2)])
    replay = store_batch(db_engine, [article(1)], [enrichment(1, entities=5)])
    assert replay.entities_inserted == 0
    assert count_rows(db_engine)["entities"] == 2


def test_duplicates_inside_one_batch(db_engine: Engine) -> None:
    result = store_batch(db_engine, [article(1), article(1)], [enrichment(1), enrichment(1)])
    assert result == StoreResult(1, 1, 2)


def test_new_model_version_adds_an_enrichment(db_engine: Engine) -> None:
    store_batch(db_engine, [article(1)], [enrichment(1)])
    result = store_batch(db_engine, [article(1)], [enrichment(1, version="finsent-test-2")])
    assert result == StoreResult(0, 1, 2)


def test_chunk_boundaries(db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "CHUNK_ROWS", 7)
    assert store_batch(db_engine, *batch(range(30))) == StoreResult(30, 30, 60)
    assert store_batch(db_engine, *batch(range(20, 40))) == StoreResult(10, 10, 20)
    assert existing_enrichment_ids(db_engine, [f"news{i:08d}" for i in range(35, 45)], VERSION) == {
        f"news{i:08d}" for i in range(35, 40)
    }


def test_datetimes_round_trip_as_aware_utc(db_engine: Engine) -> None:
    plus5 = timezone(timedelta(hours=5, minutes=30))
    published = datetime(2026, 3, 2, 20, 0, 0, 654321, tzinfo=plus5)
    store_batch(db_engine, [article(1, published_at=published)], [])

    with db_engine.connect() as conn:
        row = conn.execute(select(Article.published_at, Article.ingested_at, Article.stored_at)).one()
    assert row.published_at == published
    assert row.published_at.utcoffset() == timedelta(0)
    assert row.ingested_at.tzinfo is not None and row.ingested_at.utcoffset() == timedelta(0)
    assert row.stored_at.tzinfo is not None and row.stored_at.utcoffset() == timedelta(0)


def test_enrichment_without_article_raises_and_writes_nothing(db_engine: Engine) -> None:
    with pytest.raises(MissingArticleError, match=r"\[DB001\].*news00000009") as caught:
        store_batch(db_engine, [article(1)], [enrichment(1), enrichment(9)])
    assert caught.value.news_ids == ("news00000009",)
    assert all(n == 0 for n in count_rows(db_engine).values())


def test_enrichment_of_an_article_stored_earlier(db_engine: Engine) -> None:
    assert store_articles(db_engine, [article(1), article(2)]) == 2
    assert store_articles(db_engine, [article(2)]) == 0
    assert store_batch(db_engine, [], [enrichment(1)]) == StoreResult(0, 1, 2)
    assert existing_enrichment_ids(db_engine, ["news00000001", "news00000002"], VERSION) == {"news00000001"}


def test_unicode_and_emoji_survive(db_engine: Engine) -> None:
    title = "Ünïcödé 株価が急騰 📈🚀 — «quotes» ‘smart’"  # noqa: RUF001
    news = article(1, title=title, body="Ω≈ç√ 🏦\u200b\n", tickers=("7203.T", "ÄBC"))
    mention = EntityMention(text="株価 🚀", label="ORG", start=0, end=4, confidence=0.5)
    enriched = enrichment(1, entities=0).model_copy(update={"entities": (mention,)})
    store_batch(db_engine, [news], [enriched])

    with db_engine.connect() as conn:
        stored = conn.execute(select(Article.title, Article.body, Article.tickers)).one()
        entity_text = conn.scalar(select(Entity.text))
    assert tuple(stored) == (title, news.body, ["7203.T", "ÄBC"])
    assert entity_text == "株価 🚀"


def test_count_rows_covers_every_table(db_engine: Engine) -> None:
    counts = count_rows(db_engine)
    assert set(counts) >= {"articles", "enrichments", "entities", "alert_events", "webhook_deliveries"}
    assert all(n == 0 for n in counts.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.sets(st.integers(0, 15), max_size=10),
    second=st.sets(st.integers(0, 15), max_size=10),
)
def test_any_two_batches_store_their_union(db_engine: Engine, first: set[int], second: set[int]) -> None:
    with db_engine.begin() as conn:  # hypothesis reuses the database between examples
        for table in reversed(TABLES):
            conn.execute(table.delete())
    a = store_batch(db_engine, *batch(sorted(first)))
    b = store_batch(db_engine, *batch(sorted(second)))
    union = len(first | second)
    assert a.articles_inserted + b.articles_inserted == union
    assert a.entities_inserted + b.entities_inserted == 2 * union
    assert existing_enrichment_ids(db_engine, [f"news{i:08d}" for i in range(16)], VERSION) == {
        f"news{i:08d}" for i in first | second
    }


def test_prediction_flags_are_stored_so_a_reader_can_tell_a_caveated_result(db_engine: Engine) -> None:
    caveated = enrichment(1).model_copy(update={"flags": ("truncated",)})
    store_batch(db_engine, [article(1), article(2)], [caveated, enrichment(2)])
    with db_engine.connect() as conn:
        flags = {row.news_id: row.flags for row in conn.execute(select(Enrichment.news_id, Enrichment.flags))}
    assert flags == {"news00000001": ["truncated"], "news00000002": []}


def test_sanitised_text_reaches_postgres_intact(db_engine: Engine) -> None:
    dirty = article(7, title="NUL\x00 and \ud800 lone", body="a\x00b\r\nc", tickers=("AC\x00ME",))
    assert store_batch(db_engine, [dirty], [enrichment(7)]).enrichments_inserted == 1
    with db_engine.connect() as conn:
        row = conn.execute(select(Article.title, Article.body, Article.tickers)).one()
    assert tuple(row) == ("NUL and \ufffd lone", "ab\nc", ["ACME"])
