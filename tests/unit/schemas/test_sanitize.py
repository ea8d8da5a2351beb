"""The sanitising step at the contract boundary: what is cleaned and kept, what is rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import DeadLetter, DecodeFailure, RawNews, decode, encode, news_id
from schemas.sanitize import clean_line, clean_text, replace_lone_surrogates

PUBLISHED = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) not in "\n\t"} | {chr(c) for c in range(0x7F, 0xA0)}
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def storable(text: str) -> bool:
    """What Postgres text and JSON accept: UTF-8 encodable, no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@pytest.mark.parametrize(
    ("raw", "line", "text"),
    [
        ("Fed holds rates", "Fed holds rates", "Fed holds rates"),
        ("a\x00b", "ab", "ab"),
        ("a\r\nb\rc\nd", "a  b c d", "a\nb\nc\nd"),
        ("col\tumn", "col umn", "col\tumn"),
        ("x\x0b\x0cy\x85\u2028\u2029z", "x  y   z", "x\n\ny\n\n\nz"),
        ("bell\x07 esc\x1b[31m del\x7f c1\x9b", "bell esc[31m del c1", "bell esc[31m del c1"),
        ("pay \u202eredli\u202c now \u2066x\u2069", "pay redli now x", "pay redli now x"),
        ("lone \ud800 high, \udfff low", "lone \ufffd high, \ufffd low", "lone \ufffd high, \ufffd low"),
        ("pair \ud83d\ude00", "pair \U0001f600", "pair \U0001f600"),
        ("\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f", "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f", "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f"),
    ],
    ids=["plain", "nul", "crlf", "tab", "breaks", "controls", "bidi", "surrogates", "pair", "rtl-kept"],
)
def test_clean_line_and_text(raw: str, line: str, text: str) -> None:
    assert clean_line(raw) == line
    assert clean_text(raw) == text


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0), max_size=200))
def test_cleaned_text_is_storable_idempotent_and_free_of_controls(value: str) -> None:
    for clean in (clean_line, clean_text):
        out = clean(value)
        assert storable(out)
        assert clean(out) == out
        assert not (set(out) & (FORBIDDEN | BIDI))
    assert "\n" not in clean_line(value) and "\t" not in clean_line(value)


@given(st.text(max_size=200))
def test_surrogate_free_text_only_loses_what_is_forbidden(value: str) -> None:
    kept = [c for c in value if c not in FORBIDDEN | BIDI | set("\r\x85\u2028\u2029")]
    assert [c for c in clean_text(value) if c != "\n"] == [c for c in kept if c != "\n"]


def test_lone_surrogates_are_replaced_and_pairs_joined() -> None:
    assert replace_lone_surrogates("\ud83d\ude00\ud800") == "\U0001f600\ufffd"


def test_raw_news_fields_are_sanitised_and_the_id_ignores_the_noise() -> None:
    dirty = RawNews.model_validate(
        {
            "source": "wire\x00",
            "title": "Acme\x00 beats \u202eestimates\ud800",
            "body": "line one\r\nline two\x00",
            "url": None,
            "tickers": ["AC\x00ME"],
            "language": "en\x00",
            "published_at": PUBLISHED,
        }
    )
    assert dirty.title == "Acme beats estimates\ufffd" and dirty.body == "line one\nline two"
    assert dirty.source == "wire" and dirty.tickers == ("ACME",) and dirty.language == "en"
    assert dirty.id == news_id(url=None, source="wire", title=dirty.title, published_at=PUBLISHED)
    assert storable(encode(dirty).decode("utf-8"))


@given(st.text(alphabet=st.characters(codec=None), min_size=1, max_size=100))
def test_news_id_never_fails_and_cleaned_or_not_agrees(title: str) -> None:
    assert news_id(url=None, source="s", title=title, published_at=PUBLISHED) == news_id(
        url=None, source="s", title=clean_line(title), published_at=PUBLISHED
    )


def test_news_id_of_an_unparsable_url_does_not_raise() -> None:
    assert len(news_id(url="https://host:port/x", source="s", title="t", published_at=PUBLISHED)) == 32
    assert len(news_id(url="http://[::1/x", source="s", title="t", published_at=PUBLISHED)) == 32


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"title": "x" * 2_001}, "title: String should have at most 2000 characters"),
        ({"title": "\x00\x00"}, "title: String should have at least 1 character"),
        ({"id": "abc\x00def-123"}, "id: String should match pattern"),
        ({"id": "id with spaces"}, "id: String should match pattern"),
        ({"published_at": "0001-01-01T00:00:00+05:00"}, "published_at: Value error, 0001-01-01T00:00:00+05:00 is out"),
        ({"published_at": "9999-12-31T23:59:59-05:00"}, "out of range once converted to UTC"),
        ({"url": 5}, "url: Input should be a valid string"),
        ({"source": ["a"]}, "source: Input should be a valid string"),
        ({"tickers": ["A" * 33]}, "tickers.0: Value should have at most 32"),
    ],
    ids=["long-title", "empty-after-cleaning", "id-nul", "id-space", "early-date", "late-date", "url-type", "source-type", "long-ticker"],
)
def test_what_cannot_be_kept_is_rejected_with_the_field_in_the_reason(overrides: dict[str, object], fragment: str) -> None:
    data = {"source": "wire", "title": "Fed holds rates", "published_at": "2026-03-02T14:30:00Z", **overrides}
    result = decode(json.dumps(data).encode(), RawNews)
    assert isinstance(result, DecodeFailure), result
    assert fragment in result.reason
    with pytest.raises(ValidationError):
        RawNews.model_validate(data)


def test_json_surrogate_escapes_decode_to_the_same_item_as_from_python() -> None:
    payload = b'{"source": "wire", "title": "Acme \\ud800 \\u0000 beats", "published_at": "2026-03-02T14:30:00Z"}'
    decoded = decode(payload, RawNews)
    assert isinstance(decoded, RawNews) and decoded.title == "Acme \ufffd  beats"
    assert decoded == RawNews.model_validate(json.loads(payload)).model_copy(update={"ingested_at": decoded.ingested_at})


def test_deep_nesting_is_refused_with_a_reason() -> None:
    payload = b'{"source": "s", "title": "t", "published_at": "2026-03-02T14:30:00Z", "tickers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    result = decode(payload, RawNews)
    assert isinstance(result, DecodeFailure) and "recursion limit" in result.reason
    escaped = payload.replace(b'"t"', b'"\\ud800"')
    result = decode(escaped, RawNews)
    assert isinstance(result, DecodeFailure) and result.reason.startswith("invalid RawNews")


def test_dead_letter_text_is_sanitised_so_it_can_always_be_encoded() -> None:
    letter = DeadLetter.of(b"\x00", stage="store", reason="bad \ud800\x00 text", error_type="DataError", source="t\x00")
    assert letter.reason == "bad \ufffd text" and letter.source == "t"
    assert decode(encode(letter), DeadLetter) == letter
