"""`decode_records`: every record becomes a typed message or a dead letter, nothing is lost."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from pipeline.kafka.consume import Decoded, decode_records
from schemas import RawNews
from tests.fixtures.kafka import malformed_raw_payloads, sample_raw_news_json


class Record(NamedTuple):
    """The fields of kafka-python's ConsumerRecord that decode_records reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def record(value: bytes | None, offset: int = 0, key: bytes | None = b"k") -> Record:
    return Record("news.raw", 1, offset, 1_767_323_045_000, key, value)


def test_valid_record_decodes_with_its_position() -> None:
    payload = json.dumps(sample_raw_news_json()).encode()
    decoded, letters = decode_records([record(payload, offset=41)], RawNews)
    assert letters == []
    [item] = decoded
    assert isinstance(item, Decoded)
    assert item.value == RawNews.model_validate(sample_raw_news_json())
    assert (item.topic, item.partition, item.offset, item.key) == ("news.raw", 1, 41, b"k")
    assert item.timestamp.year == 2026 and item.timestamp.tzinfo is not None


@pytest.mark.parametrize("case", sorted(malformed_raw_payloads()))
def test_malformed_record_becomes_a_dead_letter(case: str) -> None:
    payload, fragment = malformed_raw_payloads()[case]
    decoded, letters = decode_records([record(payload, offset=7)], RawNews)
    assert decoded == []
    [letter] = letters
    assert fragment in letter.reason
    assert letter.payload == payload
    assert letter.stage == "decode"
    assert (letter.source, letter.partition, letter.offset, letter.key) == ("news.raw", 1, 7, "k")


def test_tombstone_becomes_a_dead_letter() -> None:
    _, [letter] = decode_records([record(None)], RawNews)
    assert letter.error_type == "EmptyMessage"
    assert letter.payload == b""


def test_mixed_batch_keeps_order_and_loses_nothing() -> None:
    good = json.dumps(sample_raw_news_json()).encode()
    records = [record(good, 0), record(b"{", 1), record(good, 2), record(b"\xff", 3, key=None)]
    decoded, letters = decode_records(records, RawNews)
    assert [d.offset for d in decoded] == [0, 2]
    assert [(le.offset, le.key) for le in letters] == [(1, "k"), (3, None)]


def test_empty_batch() -> None:
    assert decode_records([], RawNews) == ([], [])
