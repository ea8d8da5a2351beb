"""The model worker's batch step: pure logic with a scripted predictor and an in-memory store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DataError, OperationalError

from pipeline.db.writer import StoreResult
from pipeline.enrichment import BatchItem, Origin, process_batch
from schemas import EnrichedNews, RawNews, encode

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


@dataclass
class Ent:
    text: str
    label: str
    start: int
    end: int
    score: float
    ticker: str | None


@dataclass
class Pred:
    topic: str = "Macro"
    topic_score: float = 0.9
    sentiment: str = "negative"
    sentiment_probs: dict[str, float] = field(
        default_factory=lambda: {"negative": 0.7, "neutral": 0.2, "positive": 0.1}
    )
    sentiment_score: float = -0.6
    entities: list[Ent] = field(default_factory=lambda: [Ent("Fed", "ORG", 0, 3, 0.98, None)])
    flags: tuple[str, ...] = ()


class ScriptedPredictor:
    """Fails whole batches that contain 'BOOM', and single items that are 'BOOM'."""

    model_version = "test-v1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[Pred]:
        self.calls.append(len(texts))
        if any("BOOM" in t for t in texts):
            raise ValueError("cannot score BOOM")
        return [Pred(flags=_flags(t)) for t in texts]


def _flags(text: str) -> tuple[str, ...]:
    """What the real predictor says of inputs it cannot score, or only partly read."""
    if text.startswith("???"):
        return ("empty",)
    if text.startswith("中文"):
        return ("unsupported_language",)
    return ("truncated",) if text.startswith("LONG") else ()


class MemoryStore:
    """Refuses (as Postgres would, with a `DataError`) any batch holding a title with 'POISON'."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], EnrichedNews] = {}
        self.calls: list[int] = []

    def __call__(self, articles: Sequence[RawNews], enriched: Sequence[EnrichedNews]) -> StoreResult:
        self.calls.append(len(articles))
        if any("POISON" in a.title for a in articles):
            raise DataError("INSERT ...", {}, ValueError("value refused by the database"))
        new = [e for e in enriched if (e.news_id, e.model_version) not in self.rows]
        for e in new:
            self.rows[(e.news_id, e.model_version)] = e
        return StoreResult(len(articles), len(new), sum(len(e.entities) for e in new))


def item(title: str, offset: int) -> BatchItem:
    news = RawNews(source="wire", title=title, published_at=NOW)  # type: ignore[call-arg]
    return BatchItem(news=news, origin=Origin("news.raw", 0, offset), payload=encode(news))


def test_batch_is_enriched_and_stored() -> None:
    store = MemoryStore()
    outcome = process_batch([item("Fed hikes", 0), item("Oil slides", 1)], ScriptedPredictor(), store, clock=lambda: NOW)
    assert len(outcome.enriched) == 2 and not outcome.dead_letters
    assert outcome.stored.enrichments_inserted == 2 and outcome.duplicates == 0
    first = outcome.enriched[0]
    assert first.model_version == "test-v1" and first.processed_at == NOW
    assert first.sentiment_probs.negative == 0.7 and first.entities[0].confidence == 0.98


def test_one_bad_item_goes_to_dlq_and_the_rest_is_stored() -> None:
    predictor, store = ScriptedPredictor(), MemoryStore()
    batch = [item("Fed hikes", 0), item("BOOM", 1), item("Oil slides", 2)]
    outcome = process_batch(batch, predictor, store, clock=lambda: NOW)
    assert [e.news_id for e in outcome.enriched] == [batch[0].news.id, batch[2].news.id]
    (letter,) = outcome.dead_letters
    assert letter.stage == "model" and "cannot score BOOM" in letter.reason
    assert letter.offset == 1 and letter.payload == batch[1].payload
    assert predictor.calls == [3, 1, 2, 1, 1]  # bisected: the good half is scored in one call


def test_replayed_batch_is_counted_as_duplicates_not_stored_twice() -> None:
    store = MemoryStore()
    batch = [item("Fed hikes", 0), item("Fed hikes", 1), item("Oil slides", 2)]
    first = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    assert first.duplicates == 1 and first.stored.enrichments_inserted == 2
    again = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    assert again.stored.enrichments_inserted == 0 and again.duplicates == 3
    assert len(store.rows) == 2


def test_unscorable_inputs_are_dead_lettered_and_caveats_are_stored() -> None:
    store = MemoryStore()
    batch = [item("??? !!!", 0), item("中文标题", 1), item("LONG story", 2), item("Fed hikes", 3)]
    outcome = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    reasons = {letter.offset: letter.reason for letter in outcome.dead_letters}
    assert reasons == {0: "not scored: empty", 1: "not scored: unsupported_language"}
    assert all(letter.stage == "model" and letter.error_type == "Unscored" for letter in outcome.dead_letters)
    assert [e.flags for e in outcome.enriched] == [("truncated",), ()]
    assert {key[0] for key in store.rows} == {batch[2].news.id, batch[3].news.id}


def test_rows_the_store_refuses_are_isolated_and_dead_lettered_the_rest_is_stored() -> None:
    store = MemoryStore()
    batch = [item(f"Headline {i}" + (" POISON" if i in (2, 5) else ""), i) for i in range(8)]
    outcome = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    assert sorted(letter.offset for letter in outcome.dead_letters) == [2, 5]
    (letter, _) = outcome.dead_letters
    assert letter.stage == "store" and letter.error_type == "DataError"
    assert "ValueError: value refused by the database" in letter.reason and "[SQL" not in letter.reason
    assert letter.payload == batch[letter.offset or 0].payload
    assert outcome.stored.enrichments_inserted == 6 == len(store.rows)
    assert [e.news_id for e in outcome.enriched] == [b.news.id for k, b in enumerate(batch) if k not in (2, 5)]
    assert len(store.calls) <= 2 * 2 * 3 + 1  # bisection: a few tries per bad item, not one per item


def test_an_outage_is_not_isolated_it_propagates() -> None:
    def down(articles: Sequence[RawNews], enriched: Sequence[EnrichedNews]) -> StoreResult:
        raise OperationalError("INSERT ...", {}, ConnectionError("connection refused"))

    with pytest.raises(OperationalError):
        process_batch([item("Fed hikes", 0), item("Oil slides", 1)], ScriptedPredictor(), down, clock=lambda: NOW)


@dataclass
class SentimentEnt(Ent):
    sentiment: str | None = None
    sentiment_probs: dict[str, float] | None = None
    sentiment_source: str | None = None


def test_entity_sentiment_and_its_source_are_carried_to_the_contract() -> None:
    probs = {"negative": 0.1, "neutral": 0.2, "positive": 0.7}
    entities = [
        SentimentEnt("Fed", "ORG", 0, 3, 0.9, None, "positive", probs, "entity"),
        SentimentEnt("ECB", "ORG", 8, 11, 0.9, None, "negative", {"negative": 0.7, "neutral": 0.2, "positive": 0.1}, "sentence"),
        SentimentEnt("BoE", "ORG", 16, 19, 0.9, None),  # past truncation: none
        Ent("BoJ", "ORG", 24, 27, 0.9, None),  # a predictor without the fourth output
    ]

    class Predictor(ScriptedPredictor):
        def predict(self, texts: Sequence[str]) -> list[Pred]:
            return [Pred(entities=list(entities)) for _ in texts]  # type: ignore[arg-type]

    (enriched,) = process_batch([item("Fed up, ECB down, BoE, BoJ", 0)], Predictor(), MemoryStore(), clock=lambda: NOW).enriched
    assert enriched.schema_version == 3
    assert [(e.sentiment, e.sentiment_source) for e in enriched.entities] == [
        ("positive", "entity"), ("negative", "sentence"), (None, None), (None, None)
    ]
    assert enriched.entities[1].sentiment_score == pytest.approx(-0.6)
