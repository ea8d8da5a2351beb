"""The tickers and entities sliding most: articles naming each one in a window against the
baseline period before it, ranked by negative share (`by="negative"`) or volume (`by="volume"`).

An entity is its ticker when linked to one, else its label and lower-cased text; an article naming
it twice counts once, with its sentiment towards it: the model's (the entity's own, else its
sentence's) from its first mention, else the headline's where it has none (`pipeline.db.mentions`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, literal, select

from pipeline.db.mentions import first_mentions
from pipeline.db.models import Enrichment, Entity
from pipeline.read.figures import change
from pipeline.read.models import EntityFigures

Ranking = Literal["negative", "volume"]


def top_entities(
    conn: Connection,
    model_version: str,
    as_of: datetime,
    *,
    window: timedelta,
    baseline: timedelta,
    by: Ranking = "negative",
    min_count: int = 2,
    tickers_only: bool = False,
    limit: int = 20,
) -> list[EntityFigures]:
    """The `limit` entities with at least `min_count` articles in `[as_of - window, as_of)`."""
    e, en = Enrichment.__table__, Entity.__table__
    window_start = as_of - window
    baseline_start = window_start - baseline
    key = case((en.c.ticker.is_not(None), en.c.ticker), else_=en.c.label + literal(":") + func.lower(en.c.text))
    conditions = [e.c.model_version == model_version, e.c.published_at >= baseline_start, e.c.published_at < as_of]
    if tickers_only:
        conditions.append(en.c.ticker.is_not(None))
    mentions = first_mentions(
        e, en, (key,), (key.label("key"), en.c.ticker, en.c.text, en.c.label, e.c.published_at), conditions
    )
    m = mentions.c
    in_window = m.published_at >= window_start
    in_baseline = m.published_at < window_start
    count = func.count().filter(in_window)
    negative = func.count().filter(and_(in_window, m.sentiment == "negative"))
    share = negative * 1.0 / func.nullif(count, 0)
    order: list[Any] = [share.desc(), negative.desc()] if by == "negative" else [count.desc(), share.desc()]
    rows = conn.execute(
        select(
            m.key,
            func.max(m.ticker).label("ticker"),
            func.max(m.text).label("text"),
            func.max(m.label).label("label"),
            count.label("count"),
            negative.label("negative"),
            func.avg(m.sentiment_score).filter(in_window).label("mean"),
            func.count().filter(in_baseline).label("b_count"),
            func.count().filter(and_(in_baseline, m.sentiment == "negative")).label("b_negative"),
            func.avg(m.sentiment_score).filter(in_baseline).label("b_mean"),
        )
        .group_by(m.key)
        .having(count >= min_count)
        .order_by(*order, m.key)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        mean = float(r.mean) if r.mean is not None else None
        b_mean = float(r.b_mean) if r.b_mean is not None else None
        out.append(
            EntityFigures(
                key=r.key,
                ticker=r.ticker,
                text=r.text,
                label=r.label,
                count=r.count,
                negative=r.negative,
                negative_share=r.negative / r.count if r.count else None,
                mean_score=mean,
                baseline_count=r.b_count,
                baseline_negative_share=r.b_negative / r.b_count if r.b_count else None,
                baseline_mean_score=b_mean,
                mean_score_change=change(mean, b_mean),
            )
        )
    return out
