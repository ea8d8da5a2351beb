"""Writer errors read well on their own."""

from __future__ import annotations

from pipeline.db.writer import MissingArticleError


def test_missing_article_error_names_ids_and_fix() -> None:
    error = MissingArticleError([f"id{i:08d}" for i in range(7, 0, -1)])
    assert error.news_ids[0] == "id00000001"
    assert "[DB001] 7 enrichment(s)" in str(error)
    assert "id00000001" in str(error) and "..." in str(error)
    assert "RawNews" in str(error)
