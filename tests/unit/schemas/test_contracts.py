"""Message contracts: validation, stable ids, serde that never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import (
    AlertEvent,
    AlertWindow,
    DeadLetter,
    DecodeFailure,
    EnrichedNews,
    EntityMention,
    RawNews,
    SentimentProbs,
    canonical_url,
    decode,
    encode,
    news_id,
)
from schemas.dlq import MAX_PAYLOAD_BYTES
from schemas.news import MAX_BODY_CHARS

PUBLISHED = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def raw(**overrides: object) -> RawNews:
    fields: dict[str, object] = {
        "source": "wire",
        "url": "https://example.com/a?utm_source=x",
        "title": "Fed holds rates",
        "published_at": PUBLISHED,
    }
    fields.update(overrides)
    return RawNews.model_validate(fields)


def test_id_is_computed_from_canonical_url_and_ignores_tracking() -> None:
    a = raw(url="https://Example.com/a/?utm_source=x&b=2&a=1#frag")
    b = raw(url="https://example.com/a?a=1&b=2", title="Other title")
    assert a.id == b.id
    assert canonical_url("HTTPS://Example.com:443/a/?b=2&a=1") == "https://example.com/a?a=1&b=2"


def test_id_without_url_uses_source_title_and_time() -> None:
    a = raw(url=None)
    assert a.id == news_id(url=None, source="wire", title="Fed holds rates", published_at=PUBLISHED)
    assert raw(url=None, source="other").id != a.id
    assert raw(url=None, published_at=PUBLISHED + timedelta(seconds=1)).id != a.id


def test_published_at_is_normalised_to_utc_and_naive_is_rejected() -> None:
    eastern = timezone(timedelta(hours=-5))
    item = raw(published_at=datetime(2026, 3, 2, 9, 30, tzinfo=eastern))
    assert item.published_at == PUBLISHED and item.published_at.tzinfo == UTC
    with pytest.raises(ValidationError, match="timezone"):
        raw(published_at=datetime(2026, 3, 2, 9, 30))  # noqa: DTZ001 - naive on purpose


def test_contracts_are_frozen_and_strict() -> None:
    item = raw()
    with pytest.raises(ValidationError):
        item.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        raw(unexpected=1)
    with pytest.raises(ValidationError):
        raw(title="")
    with pytest.raises(ValidationError):
        raw(body="x" * (MAX_BODY_CHARS + 1))


def enriched() -> EnrichedNews:
    return EnrichedNews(
        news_id=raw().id,
        model_version="m1",
        published_at=PUBLISHED,
        topic="Macro",
        topic_score=0.9,
        sentiment="negative",
        sentiment_probs=SentimentProbs(negative=0.7, neutral=0.2, positive=0.1),
        sentiment_score=-0.6,
        entities=(
            EntityMention(
                text="Fed",
                label="ORG",
                start=0,
                end=3,
                confidence=0.99,
                sentiment="positive",
                sentiment_probs=SentimentProbs(negative=0.1, neutral=0.2, positive=0.7),
                sentiment_score=0.6,
                sentiment_source="entity",
            ),
            EntityMention(text="ECB", label="ORG", start=8, end=11, confidence=0.9),
        ),
    )


@pytest.mark.parametrize(
    "message",
    [
        raw(),
        enriched(),
        AlertEvent(
            fingerprint="f" * 16,
            rule="negative_spike",
            topic="Macro",
            status="firing",
            window=AlertWindow(start=PUBLISHED, end=PUBLISHED + timedelta(minutes=15)),
            figures={"negative_share": 0.8},
            started_at=PUBLISHED,
        ),
        DeadLetter.of(b"\xff{", stage="decode", reason="bad", error_type="InvalidUtf8", source="news.raw"),
    ],
    ids=lambda m: type(m).__name__,
)
def test_encode_decode_round_trip(message: object) -> None:
    data = encode(message)  # type: ignore[arg-type]
    assert decode(data, type(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "error_type", "fragment"),
    [
        (b'{"source": "x", "title": "t"', "ValidationError", "Invalid JSON"),
        (b"\xff\xfe not utf8", "InvalidUtf8", "UTF-8"),
        (b'{"source": "x", "published_at": "2026-01-01T00:00:00Z"}', "ValidationError", "title"),
        (b'{"source": 3, "title": ["t"], "published_at": "soon"}', "ValidationError", "published_at"),
        (None, "EmptyMessage", "tombstone"),
    ],
)
def test_decode_failure_is_data_with_reason(payload: bytes | None, error_type: str, fragment: str) -> None:
    result = decode(payload, RawNews)
    assert isinstance(result, DecodeFailure)
    assert result.error_type == error_type
    assert fragment in result.reason
    assert result.raw == (payload or b"")


@given(st.binary(max_size=300))
def test_decode_never_raises(payload: bytes) -> None:
    result = decode(payload, RawNews)
    assert isinstance(result, (RawNews, DecodeFailure))


def test_dead_letter_payload_survives_the_topic_byte_for_byte() -> None:
    payload = bytes(range(256)) + b"\x00\xffraw"
    letter = DeadLetter.of(payload, stage="ingest", reason="r", error_type="E", source="file.csv")
    read_back = decode(encode(letter), DeadLetter)
    assert isinstance(read_back, DeadLetter)
    assert read_back.payload == payload and read_back.payload_size is None


def test_dead_letter_of_a_huge_payload_keeps_its_head_and_says_how_big_it_was() -> None:
    payload = b"x" * (MAX_PAYLOAD_BYTES + 10)
    letter = DeadLetter.of(payload, stage="decode", reason="too big", error_type="E", source="news.raw")
    assert letter.payload == payload[:MAX_PAYLOAD_BYTES] and letter.payload_size == len(payload)
    assert len(encode(letter)) < 8 * 1024 * 1024  # under the producer's record limit


def test_version_1_enriched_messages_are_still_read() -> None:
    """A message written before entity sentiment (schema 1) decodes; its entities have none."""
    v2 = json.loads(encode(enriched()))
    v1 = {**v2, "schema_version": 1, "entities": [
        {k: v for k, v in e.items() if not k.startswith("sentiment")} for e in v2["entities"]
    ]}
    message = decode(json.dumps(v1).encode(), EnrichedNews)
    assert isinstance(message, EnrichedNews)
    assert message.schema_version == 1
    assert [e.sentiment for e in message.entities] == [None, None]
    assert EnrichedNews.model_fields["schema_version"].default == 3


def test_version_1_cannot_carry_entity_sentiment() -> None:
    v1 = {**json.loads(encode(enriched())), "schema_version": 1}
    failure = decode(json.dumps(v1).encode(), EnrichedNews)
    assert isinstance(failure, DecodeFailure)
    assert "schema_version 1 has no entity sentiment" in failure.reason


def test_version_2_enriched_messages_are_still_read_without_a_sentiment_source() -> None:
    """A message written before the sentence fallback (schema 2): entity sentiment, no source."""
    v3 = json.loads(encode(enriched()))
    v2 = {**v3, "schema_version": 2, "entities": [
        {k: v for k, v in e.items() if k != "sentiment_source"} for e in v3["entities"]
    ]}
    message = decode(json.dumps(v2).encode(), EnrichedNews)
    assert isinstance(message, EnrichedNews)
    assert [(e.sentiment, e.sentiment_source) for e in message.entities] == [("positive", None), (None, None)]
    failure = decode(json.dumps({**v3, "schema_version": 2}).encode(), EnrichedNews)
    assert isinstance(failure, DecodeFailure) and "have no entity sentiment_source" in failure.reason


def test_version_3_entity_sentiment_comes_with_its_source() -> None:
    v3 = json.loads(encode(enriched()))
    assert [e["sentiment_source"] for e in v3["entities"]] == ["entity", None]
    sentence = {**v3["entities"][0], "sentiment_source": "sentence"}
    assert isinstance(decode(json.dumps({**v3, "entities": [sentence]}).encode(), EnrichedNews), EnrichedNews)
    unsourced = {**v3["entities"][0], "sentiment_source": None}
    failure = decode(json.dumps({**v3, "entities": [unsourced]}).encode(), EnrichedNews)
    assert isinstance(failure, DecodeFailure) and "come together" in failure.reason
    with pytest.raises(ValidationError, match="sentiment_source without a sentiment"):
        EntityMention(text="ECB", label="ORG", start=0, end=3, confidence=0.9, sentiment_source="sentence")
    with pytest.raises(ValidationError):
        EntityMention(text="ECB", label="ORG", start=0, end=3, confidence=0.9, sentiment="positive",
                      sentiment_source="headline")  # type: ignore[arg-type]
