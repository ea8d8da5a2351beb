"""The model worker's batch step, free of any transport: (batch, predictor, store) -> outcome.

Order per batch: predict every decodable item, store articles + enrichments + entities in one
transaction (idempotent on (news_id, model_version)), and return the `EnrichedNews` to emit and
the dead letters to publish. The caller emits, then commits offsets — so a crash anywhere only
replays work.

Nothing but a real prediction is stored:

- the predictor raises on a batch: the batch is bisected (`pipeline.isolation`) until the items
  that fail on their own are found; those go to the DLQ (stage `model`, the error as reason);
- the predictor returns its fallback for an input it cannot score (flags `empty`, `not_text`,
  `unsupported_language`, `error`): the item goes to the DLQ (stage `model`, reason
  `not scored: <flag>`), never into the tables with a made-up topic and sentiment;
- other flags describe a real prediction (`truncated`: only the title + lead was read) and are
  stored with it (`EnrichedNews.flags`, column `enrichments.flags`);
- the store refuses rows (bad data, `pipeline.db.faults.is_bad_data`): the batch is bisected the
  same way; refused items go to the DLQ (stage `store`), the rest is stored. Each item is tried
  at most ceil(log2(n)) + 1 times. Outages are the store callable's business (the worker retries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pipeline.db.faults import is_bad_data
from pipeline.db.writer import StoreResult
from pipeline.isolation import isolate
from schemas import DeadLetter, EnrichedNews, EntityMention, RawNews, SentimentProbs, sentiment_score, utc_now

log = logging.getLogger(__name__)


class EntityLike(Protocol):
    """An entity as a predictor gives it; it may also give the model's `sentiment` towards it,
    `sentiment_probs` and `sentiment_source` (`entity` or `sentence`; None where it has none),
    read with `getattr`."""

    text: str
    label: str
    start: int
    end: int
    score: float
    ticker: str | None


class PredictionLike(Protocol):
    """What the model says about one text; a predictor may also give `flags: Sequence[str]`
    (see `UNSCORED_FLAGS`), read with `getattr` so flag-less stand-ins work as they are."""

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


UNSCORED_FLAGS = frozenset({"empty", "not_text", "unsupported_language", "error"})
"""Flags of a predictor's fallback for an input it could not score: such an item is dead-lettered."""

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
    """Map one prediction onto the `EnrichedNews` contract (its flags included)."""
    probs = prediction.sentiment_probs
    return EnrichedNews(
        news_id=news.id,
        model_version=model_version,
        published_at=news.published_at,
        topic=prediction.topic,
        topic_score=_unit(prediction.topic_score),
        sentiment=prediction.sentiment,  # type: ignore[arg-type]
        sentiment_probs=_probs(probs),
        sentiment_score=max(-1.0, min(1.0, float(prediction.sentiment_score))),
        entities=tuple(_mention(e) for e in prediction.entities),
        processed_at=now,
        flags=tuple(prediction_flags(prediction)),
    )


def _mention(entity: EntityLike) -> EntityMention:
    """An entity with its sentiment and where it came from, where the predictor gave one (read with
    `getattr` so predictors without the entity-sentiment output work as they are; one that gives a
    sentiment without a source predates the sentence fallback: its sentiment is the entity's own)."""
    probs = getattr(entity, "sentiment_probs", None)
    sentiment = getattr(entity, "sentiment", None) if probs else None
    return EntityMention(
        text=entity.text,
        label=entity.label,
        start=entity.start,
        end=entity.end,
        confidence=_unit(entity.score),
        ticker=entity.ticker,
        sentiment=sentiment,
        sentiment_probs=_probs(probs) if sentiment else None,
        sentiment_score=sentiment_score(probs) if sentiment else None,
        sentiment_source=(getattr(entity, "sentiment_source", None) or "entity") if sentiment else None,
    )


def _probs(probs: Mapping[str, float]) -> SentimentProbs:
    return SentimentProbs(
        negative=_unit(probs["negative"]), neutral=_unit(probs["neutral"]), positive=_unit(probs["positive"])
    )


def prediction_flags(prediction: PredictionLike) -> tuple[str, ...]:
    return tuple(getattr(prediction, "flags", ()) or ())


def _unit(value: float) -> float:
    return max(0.0, min(1.0, float(value)))


Scored = tuple[BatchItem, EnrichedNews]


def predict_items(
    items: Sequence[BatchItem], predictor: PredictorLike, now: datetime
) -> tuple[list[Scored], list[DeadLetter]]:
    """Predict a batch; isolate the items the predictor fails on, dead-letter them and the
    inputs it could not score (module docstring)."""

    def attempt(group: Sequence[BatchItem]) -> list[PredictionLike]:
        predictions = list(predictor.predict([item.news.text for item in group]))
        if len(predictions) != len(group):
            raise RuntimeError(f"predictor returned {len(predictions)} results for {len(group)} texts")
        return predictions

    result = isolate(items, attempt, is_item_fault=lambda exc: True)
    if result.failed:
        log.warning("prediction failed; isolated %d of %d items", len(result.failed), len(items))
    done: list[Scored] = []
    letters = [_letter(item, "model", f"model failed: {_describe(exc)}", type(exc).__name__) for item, exc in result.failed]
    for group, predictions in result.done:
        for item, prediction in zip(group, predictions, strict=True):
            unscored = [f for f in prediction_flags(prediction) if f in UNSCORED_FLAGS]
            if unscored:
                letters.append(_letter(item, "model", f"not scored: {', '.join(unscored)}", "Unscored"))
                continue
            try:
                done.append((item, to_enriched(item.news, prediction, predictor.model_version, now)))
            except Exception as exc:  # noqa: BLE001 - an unusable prediction is this item's problem only
                letters.append(_letter(item, "model", f"unusable prediction: {_describe(exc)}", type(exc).__name__))
    order = {id(item): k for k, item in enumerate(items)}
    done.sort(key=lambda pair: order[id(pair[0])])
    return done, letters


def store_items(scored: Sequence[Scored], store: Store) -> tuple[StoreResult, list[Scored], list[DeadLetter]]:
    """Store the scored items, isolating the ones the database refuses (bad data) into dead
    letters. Returns what was added, the items stored (or already there), and the letters."""

    def attempt(group: Sequence[Scored]) -> StoreResult:
        return store([item.news for item, _ in group], [enriched for _, enriched in group])

    result = isolate(scored, attempt, is_item_fault=is_bad_data)
    if result.failed:
        log.warning("store refused %d of %d items; dead-lettering them", len(result.failed), len(scored))
    total = StoreResult(
        sum(r.articles_inserted for _, r in result.done),
        sum(r.enrichments_inserted for _, r in result.done),
        sum(r.entities_inserted for _, r in result.done),
    )
    stored = [pair for group, _ in result.done for pair in group]
    letters = [
        _letter(item, "store", f"store refused the item: {_describe(exc)}", type(exc).__name__)
        for (item, _), exc in result.failed
    ]
    return total, stored, letters


def _describe(exc: BaseException) -> str:
    """`Type: message`, without SQLAlchemy's statement and parameter dump."""
    orig = getattr(exc, "orig", None)
    cause = orig if isinstance(orig, BaseException) else exc
    text = str(cause).split("\n[SQL:")[0].strip()
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _letter(item: BatchItem, stage: Literal["model", "store"], reason: str, error_type: str) -> DeadLetter:
    log.warning("item dead-lettered: %s", reason[:200], extra={"news_id": item.news.id, "stage": stage})
    return DeadLetter.of(
        item.payload,
        stage=stage,
        reason=reason[:2000],
        error_type=error_type,
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
    """Predict, store, and say what to emit. Raises only what the store raises that is not bad
    data (e.g. an outage the store callable gave up on)."""
    unique: dict[str, BatchItem] = {}
    for item in items:
        unique.setdefault(item.news.id, item)
    repeated_in_batch = len(items) - len(unique)
    scored, model_letters = predict_items(list(unique.values()), predictor, clock())
    stored, kept, store_letters = store_items(scored, store)
    return BatchOutcome(
        enriched=tuple(enriched for _, enriched in kept),
        dead_letters=tuple(model_letters + store_letters),
        stored=stored,
        duplicates=repeated_in_batch + len(kept) - stored.enrichments_inserted,
    )
