"""The model worker's batch step, free of any transport: (batch, predictor, store) -> outcome.

Order per batch: predict every decodable item, store articles + enrichments + entities in one
transaction (idempotent on (news_id, model_version)), and return the `EnrichedNews` to emit and
the dead letters to publish. The caller emits, then commits offsets — so a crash anywhere only
replays work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pipeline.db.writer import StoreResult
from schemas import DeadLetter, EnrichedNews, EntityMention, RawNews, SentimentProbs, utc_now

log = logging.getLogger(__name__)


class EntityLike(Protocol):
    text: str
    label: str
    start: int
    end: int
    score: float
    ticker: str | None


class PredictionLike(Protocol):
    topic: str
    topic_score: float
    sentiment: str
    sentiment_probs: Mapping[str, float]
    sentiment_score: float
    entities: Sequence[EntityLike]


class PredictorLike(Protocol):
    model_version: str

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]: ...


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an item came from, for dead letters and logs."""

    source: str
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class BatchItem:
    news: RawNews
    origin: Origin
    payload: bytes


Store = Callable[[Sequence[RawNews], Sequence[EnrichedNews]], StoreResult]
"""Writes articles + enrichments in one transaction, e.g. `partial(pipeline.db.store_batch, engine)`."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    enriched: tuple[EnrichedNews, ...]
    dead_letters: tuple[DeadLetter, ...]
    stored: StoreResult
    duplicates: int
    """Items whose (news_id, model_version) was already stored or repeated within the batch."""


def to_enriched(news: RawNews, prediction: PredictionLike, model_version: str, now: datetime) -> EnrichedNews:
    """Map one prediction onto the `EnrichedNews` contract."""
    probs = prediction.sentiment_probs
    return EnrichedNews(
        news_id=news.id,
        model_version=model_version,
        published_at=news.published_at,
        topic=prediction.topic,
        topic_score=_unit(prediction.topic_score),
        sentiment=prediction.sentiment,  # type: ignore[arg-type]
        sentiment_probs=SentimentProbs(
            negative=_unit(probs["negative"]), neutral=_unit(probs["neutral"]), positive=_unit(probs["positive"])
        ),
        sentiment_score=max(-1.0, min(1.0, float(prediction.sentiment_score))),
        entities=tuple(
            EntityMention(
                text=e.text, label=e.label, start=e.start, end=e.end, confidence=_unit(e.score), ticker=e.ticker
            )
            for e in prediction.entities
        ),
        processed_at=now,
    )


def _unit(value: float) -> float:
    return max(0.0, min(1.0, float(value)))


def predict_items(
    items: Sequence[BatchItem], predictor: PredictorLike, now: datetime
) -> tuple[list[tuple[BatchItem, EnrichedNews]], list[DeadLetter]]:
    """Predict a batch; if the batch call fails, retry item by item so one bad item spoils nothing."""
    texts = [item.news.text for item in items]
    try:
        predictions = list(predictor.predict(texts))
        if len(predictions) != len(items):
            raise RuntimeError(f"predictor returned {len(predictions)} results for {len(items)} texts")
        pairs = list(zip(items, predictions, strict=True))
    except Exception:  # noqa: BLE001 - isolate the failing item below
        log.exception("batch prediction failed; retrying %d items one by one", len(items))
        return _predict_one_by_one(items, predictor, now)
    done, letters = [], []
    for item, prediction in pairs:
        try:
            done.append((item, to_enriched(item.news, prediction, predictor.model_version, now)))
        except Exception as exc:  # noqa: BLE001 - an unusable prediction is this item's problem only
            letters.append(_model_letter(item, exc))
    return done, letters


def _predict_one_by_one(
    items: Sequence[BatchItem], predictor: PredictorLike, now: datetime
) -> tuple[list[tuple[BatchItem, EnrichedNews]], list[DeadLetter]]:
    done, letters = [], []
    for item in items:
        try:
            (prediction,) = predictor.predict([item.news.text])
            done.append((item, to_enriched(item.news, prediction, predictor.model_version, now)))
        except Exception as exc:  # noqa: BLE001 - routed to the DLQ with its reason
            letters.append(_model_letter(item, exc))
    return done, letters


def _model_letter(item: BatchItem, exc: Exception) -> DeadLetter:
    log.warning("model failed on item: %s", exc, extra={"news_id": item.news.id})
    return DeadLetter.of(
        item.payload,
        stage="model",
        reason=f"model failed: {exc}"[:2000] or "model failed",
        error_type=type(exc).__name__,
        source=item.origin.source,
        partition=item.origin.partition,
        offset=item.origin.offset,
        key=item.news.id,
        news_id=item.news.id,
    )


def process_batch(
    items: Sequence[BatchItem],
    predictor: PredictorLike,
    store: Store,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> BatchOutcome:
    """Predict, store in one transaction, and say what to emit. Raises only if the store fails."""
    unique: dict[str, BatchItem] = {}
    for item in items:
        unique.setdefault(item.news.id, item)
    repeated_in_batch = len(items) - len(unique)
    done, letters = predict_items(list(unique.values()), predictor, clock())
    articles = [item.news for item, _ in done]
    enriched = [e for _, e in done]
    stored = store(articles, enriched) if done else StoreResult()
    already_stored = len(enriched) - stored.enrichments_inserted
    return BatchOutcome(
        enriched=tuple(enriched),
        dead_letters=tuple(letters),
        stored=stored,
        duplicates=repeated_in_batch + already_stored,
    )
