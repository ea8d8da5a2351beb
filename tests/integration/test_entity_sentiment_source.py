"""An entity's sentiment and where it came from (`entity` or `sentence`) travel from the contract
through the writer to the read API; rows of schema-2 messages read back without a source."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from pipeline.db import store_batch
from pipeline.read.articles import article_detail
from schemas import EnrichedNews, EntityMention, RawNews, SentimentProbs

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
TEXT = "Acme beats estimates. Globex cuts its outlook as Initech holds"
PROBS = SentimentProbs(negative=0.7, neutral=0.2, positive=0.1)


def mention(name: str, source: str | None) -> EntityMention:
    start = TEXT.index(name)
    own = {"sentiment": "negative", "sentiment_probs": PROBS, "sentiment_score": -0.6} if source else {}
    return EntityMention(
        text=name,
        label="ORG",
        start=start,
        end=start + len(name),
        confidence=0.9,
        sentiment_source=source,
        **own,
    )  # type: ignore[arg-type]


def enriched(news_id: str, version: int, entities: tuple[EntityMention, ...]) -> EnrichedNews:
    return EnrichedNews(
        schema_version=version,  # type: ignore[arg-type]
        news_id=news_id,
        model_version="m1",
        published_at=T0,
        topic="Earnings",
        topic_score=0.9,
        sentiment="neutral",
        sentiment_probs=SentimentProbs(negative=0.2, neutral=0.6, positive=0.2),
        sentiment_score=0.0,
        entities=entities,
        processed_at=T0,
    )


def test_sentiment_source_round_trips(db_engine: Engine) -> None:
    raws = [
        RawNews(source="t", title=TEXT, url=f"https://example.com/{n}", published_at=T0) for n in range(2)
    ]  # type: ignore[call-arg]
    v3 = enriched(
        raws[0].id, 3, (mention("Acme", "entity"), mention("Globex", "sentence"), mention("Initech", None))
    )
    v2_entity = v3.entities[0].model_copy(
        update={"sentiment_source": None}
    )  # written before the source existed
    v2 = enriched(raws[1].id, 2, (v2_entity,))
    store_batch(db_engine, raws, [v3, v2])
    with db_engine.connect() as conn:
        detail = article_detail(conn, raws[0].id)
        assert detail is not None
        (enrichment,) = detail.enrichments
        assert [(e.text, e.sentiment, e.sentiment_source) for e in enrichment.entities] == [
            ("Acme", "negative", "entity"),
            ("Globex", "negative", "sentence"),
            ("Initech", None, None),
        ]
        old = article_detail(conn, raws[1].id)
        assert old is not None
        assert [(e.sentiment, e.sentiment_source) for e in old.enrichments[0].entities] == [
            ("negative", None)
        ]
