"""The patterns the OpenAPI document states are the server's own checks, read the same by a
client's validator: `jsonschema_rs` (what schemathesis validates with; ECMAScript-like, where
U+0085 is not white space and U+FEFF is) and Python's `re` must agree with what the server
accepts, for every string, so a schema-valid ticker, filter or matcher is never refused and a
schema-invalid one never stored. Ticker keys never grow past the ticker (`ß` stays `ß`)."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from alerts.text import TEXT_PATTERN
from alerts.watchlists.model import TICKER_PATTERN, WatchlistSpec, ticker_key
from workers.http import params
from workers.http.routes.silences import LabelValue

TRICKY = " \t\n\x0b\x1c\x1f\x7f\x85\xa0\u1680\u2007\u2028\u200b\u3000\ufeff$ßﬃAa1.-"


def accepts_ticker(value: str) -> bool:
    try:
        WatchlistSpec(name="w", owner="o", tickers=(value,))
    except ValidationError:
        return False
    return True


def accepts_text(value: str) -> bool:
    """As a query filter (Python `re`) and as a silence matcher's value (pydantic: Rust `regex`)."""
    try:
        params.text("q", value)
    except RequestValidationError:
        with pytest.raises(ValidationError):
            TypeAdapter(LabelValue).validate_python(value)
        return False
    TypeAdapter(LabelValue).validate_python(value)
    return True


@settings(max_examples=400, derandomize=True, database=None)
@given(st.text(alphabet=TRICKY, max_size=6))
def test_the_ticker_pattern_is_what_the_server_accepts(value: str) -> None:
    client = jsonschema_rs.validator_for({"type": "string", "pattern": TICKER_PATTERN}).is_valid(value)
    assert client == bool(re.fullmatch(TICKER_PATTERN, value)) == accepts_ticker(value), repr(value)


@settings(max_examples=400, derandomize=True, database=None)
@given(st.text(alphabet=TRICKY, max_size=6))
def test_the_text_pattern_is_what_the_server_accepts(value: str) -> None:
    client = jsonschema_rs.validator_for({"type": "string", "pattern": TEXT_PATTERN}).is_valid(value)
    assert client == accepts_text(value), repr(value)


@pytest.mark.parametrize("value", ["A\x85B", "A\ufeffB", "$$A", "\x1cA", "A B", "ß" * 32, " $brk.b\n"])
def test_tricky_tickers(value: str) -> None:
    client = jsonschema_rs.validator_for({"type": "string", "pattern": TICKER_PATTERN}).is_valid(value)
    assert client == accepts_ticker(value)
    if client:
        assert len(ticker_key(value)) <= len(value.strip().lstrip("$"))
