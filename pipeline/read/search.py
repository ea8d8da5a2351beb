"""Full-text search of articles: `websearch_to_tsquery` on Postgres (GIN index `ix_articles_fts`,
migration 0006), LIKE on SQLite.

Postgres: the query is `websearch_to_tsquery('english', q)` (quoted phrases, `or`, `-word`) against
`to_tsvector('english', title || ' ' || body)`, the indexed expression (`pipeline.db.models.FTS_VECTOR`),
so English stems match ("slides" finds "slide"). SQLite: every word of `q` must appear in the title
or body (case-insensitive for ASCII, no stemming).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Select, and_, func, literal_column, select, true

from pipeline.db.models import Article

MAX_QUERY_CHARS = 200


def text_vector() -> ColumnElement[object]:
    """`pipeline.db.models.FTS_VECTOR` over the `articles` table, with literals (not bound
    parameters) so the planner matches it to the index."""
    document = Article.title.concat(literal_column("' '")).concat(Article.body)
    return func.to_tsvector(literal_column("'english'"), document)


def matches_text(conn: Connection, query: str) -> ColumnElement[bool]:
    """Articles matching the search `query` (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        return text_vector().op("@@")(func.websearch_to_tsquery(literal_column("'english'"), query))
    words = [w for w in query.split() if w]
    if not words:
        return true()
    document = Article.title.concat(" ").concat(Article.body)
    return and_(*(document.like(f"%{_escape_like(w)}%", escape="\\") for w in words))


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching_articles(conn: Connection, query: str) -> Select[tuple[str]]:
    """Ids of the articles matching `query`: on Postgres a GIN index scan, materialized first, so
    a rare term costs an index lookup instead of a tsvector per stored article."""
    ids = select(Article.id).where(matches_text(conn, query))
    if conn.dialect.name != "postgresql":
        return ids
    hits = ids.cte("search_hits").prefix_with("MATERIALIZED")
    return select(hits.c.id)
