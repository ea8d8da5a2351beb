"""`schemas.sentiment_score`: the one definition of P(positive) - P(negative)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import SentimentProbs, sentiment_score

unit = st.floats(0.0, 1.0)


@given(unit, unit, unit)
def test_a_mapping_and_the_contract_give_the_same_score(negative: float, neutral: float, positive: float) -> None:
    probs = {"negative": negative, "neutral": neutral, "positive": positive}
    score = sentiment_score(probs)
    assert score == sentiment_score(SentimentProbs(**probs))
    assert -1.0 <= score <= 1.0
    assert score == pytest.approx(positive - negative)


def test_float_error_stays_in_the_contracts_range() -> None:
    assert sentiment_score({"negative": 0.0, "positive": 1.0000001}) == 1.0
    assert sentiment_score({"negative": 1.0000001, "positive": 0.0}) == -1.0


def test_a_label_set_without_positive_is_an_error_not_a_zero() -> None:
    with pytest.raises(KeyError):
        sentiment_score({"negative": 0.2, "neutral": 0.8})
