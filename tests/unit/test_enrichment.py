"""The model worker's batch step: pure logic with a scripted predictor and an in-memory store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


class ScriptedPredictor:
    """Fails whole batches that contain 'BOOM', and single items that are 'BOOM'."""

    model_version = "test-v1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[Pred]:
        self.calls.append(len(texts))
        if any("BOOM" in t for t in texts):
            raise ValueError("cannot score BOOM")
        return [Pred() for _ in texts]


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], EnrichedNews] = {}

    def __call__(self, articles: Sequence[RawNews], enriched: Sequence[EnrichedNews]) -> StoreResult:
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
    assert predictor.calls == [3, 1, 1, 1]


def test_replayed_batch_is_counted_as_duplicates_not_stored_twice() -> None:
    store = MemoryStore()
    batch = [item("Fed hikes", 0), item("Fed hikes", 1), item("Oil slides", 2)]
    first = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    assert first.duplicates == 1 and first.stored.enrichments_inserted == 2
    again = process_batch(batch, ScriptedPredictor(), store, clock=lambda: NOW)
    assert again.stored.enrichments_inserted == 0 and again.duplicates == 3
    assert len(store.rows) == 2
