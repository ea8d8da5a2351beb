"""One article's sentiment towards one entity: what per-ticker rules and leaderboards count.

Each entity mention carries the model's sentiment towards it (`entities.sentiment`: the fourth
output's own, else the sentence holding the mention, `entities.sentiment_source`) or none (past
truncation, or rows of a model without it); the mention's sentiment is then the article's. An article naming the same entity several times counts once for it, with the
sentiment of its **first** mention in the text (lowest `start_char`; headline mentions come
first). Both SQL (`SqlStats`, `top_entities`) and the in-memory backtest rows (`load_rows`)
use these expressions, so they agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Subquery, Table, func, select


def mention_sentiment(e: Table, en: Table) -> tuple[ColumnElement[str], ColumnElement[float]]:
    """(sentiment, score) of one mention: the model's towards it, else the article's (`e`: enrichments)."""
    return (
        func.coalesce(en.c.sentiment, e.c.sentiment),
        func.coalesce(en.c.sentiment_score, e.c.sentiment_score),
    )


def mention_rank(e: Table, en: Table, key: Sequence[ColumnElement[object]]) -> ColumnElement[int]:
    """1 for the first mention of `key` (e.g. the ticker) in its article, 2 for the next, ..."""
    return func.row_number().over(
        partition_by=(e.c.id, *key), order_by=(en.c.start_char, en.c.end_char, en.c.label, en.c.id)
    )


def first_mentions(
    e: Table,
    en: Table,
    key: Sequence[ColumnElement[object]],
    columns: Sequence[ColumnElement[object]],
    where: Sequence[ColumnElement[bool]],
    name: str = "m",
) -> Subquery:
    """One row per (article, `key`) among the mentions matching `where`: `columns`, plus the
    `sentiment` and `sentiment_score` of the first mention (`mention_sentiment`)."""
    sentiment, score = mention_sentiment(e, en)
    ranked = (
        select(
            *columns,
            sentiment.label("sentiment"),
            score.label("sentiment_score"),
            mention_rank(e, en, key).label("mention"),
        )
        .select_from(e.join(en, en.c.enrichment_id == e.c.id))
        .where(*where)
        .subquery(f"{name}_ranked")
    )
    return select(*(c for c in ranked.c if c.name != "mention")).where(ranked.c.mention == 1).subquery(name)
