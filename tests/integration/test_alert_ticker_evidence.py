"""A per-ticker alert's evidence shows each article's sentiment towards the ticker, as the rule
counted it (the entity's own at its first mention, else the headline's), most negative first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

from alerts.read import ticker_evidence
from pipeline.db.models import AlertEventRow, AlertEvidence, Enrichment
from tests.fixtures.alerts_property import NOW0, Item, store_items

pytestmark = pytest.mark.integration


def test_evidence_of_a_ticker_alert_is_ordered_by_the_sentiment_towards_it(pg_engine: Engine) -> None:
    at = NOW0 - timedelta(minutes=5)
    store_items(
        pg_engine,
        [
            Item(at, "Earnings", True, -32, ("ACME", "GLBX"), "m1", own=((False, 40), None, None, None)),
            Item(at, "Earnings", True, -32, ("ACME",), "m1", own=(None, (False, 64))),
            Item(at, "Earnings", False, 10, ("ACME",), "m1", own=((True, -64), (False, 64))),
            Item(at, "Earnings", True, -32, ("GLBX", "ACME"), "m1", own=(None, (True, -16), None, None)),
            Item(at, "Earnings", True, -60, ("GLBX",), "m1"),  # not about ACME: not in its evidence
        ],
    )
    with pg_engine.begin() as conn:
        conn.execute(
            insert(AlertEventRow).values(
                event_id="ev-acme",
                fingerprint="f",
                rule="neg-ticker",
                topic="Earnings",
                status="firing",
                window_start=at,
                window_end=NOW0,
                labels={"ticker": "ACME"},
                started_at=NOW0,
                emitted_at=NOW0,
            )
        )
        rows = conn.execute(select(Enrichment.id, Enrichment.news_id).order_by(Enrichment.id).limit(4)).all()
        conn.execute(
            insert(AlertEvidence),
            [{"event_id": "ev-acme", "enrichment_id": i, "news_id": n} for i, n in rows],
        )
    with pg_engine.connect() as conn:
        articles = ticker_evidence(conn, "ev-acme", "ACME")
    towards = [(a.title, a.sentiment, a.towards) for a in articles]
    assert [(title, t.sentiment, t.sentiment_score, t.own, t.source) for title, _, t in towards if t] == [
        ("item 2", "negative", -1.0, True, "entity"),  # a neutral headline, ACME's own first mention negative
        ("item 1", "negative", -0.5, False, "headline"),  # first mention without a sentiment: the headline's
        ("item 3", "negative", -0.25, True, "sentence"),  # ACME's first mention answered by its sentence
        ("item 0", "positive", 0.625, True, "entity"),  # a negative headline, ACME's own positive
    ]
    assert [s for _, s, _ in towards] == ["neutral", "negative", "negative", "negative"]  # the headline's
