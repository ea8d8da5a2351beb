"""The tickers-sliding leaderboard counts each ticker with the article's sentiment towards it (the
entity's own from its first mention, else the headline's), on Postgres."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from pipeline.read.entities import top_entities
from tests.fixtures.alerts_property import NOW0, Item, store_items

pytestmark = pytest.mark.integration


def test_opposite_entities_in_one_headline_rank_apart(pg_engine: Engine) -> None:
    at = NOW0 - timedelta(minutes=10)
    # "ACME beats while GLBX slides" (a neutral headline) twice; ACME positive, GLBX negative of their own
    split = [Item(at, "Earnings", False, 0, ("ACME", "GLBX"), "m1", own=((False, 48), (True, -48), None, None))] * 2
    # a negative headline where the model abstained on ACME: the headline's sentiment counts
    abstained = [Item(at, "Earnings", True, -40, ("ACME",), "m1", own=(None, (False, 64)))]
    store_items(pg_engine, split + abstained)
    with pg_engine.connect() as conn:
        rows = top_entities(conn, "m1", NOW0, window=timedelta(hours=1), baseline=timedelta(days=1), tickers_only=True)
    by_ticker = {r.ticker: r for r in rows}
    assert [r.ticker for r in rows] == ["GLBX", "ACME"]
    assert (by_ticker["GLBX"].count, by_ticker["GLBX"].negative) == (2, 2)
    assert (by_ticker["ACME"].count, by_ticker["ACME"].negative) == (3, 1)
    assert by_ticker["ACME"].mean_score == pytest.approx((48 + 48 - 40) / 64 / 3)
