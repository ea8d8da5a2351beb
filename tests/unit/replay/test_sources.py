"""Replay sources: archive files and stored articles, with positions that resume exactly."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.db import make_engine, store_batch
from pipeline.enrichment import BatchItem, Origin, process_batch
from pipeline.ingest.sources.archive import ColumnMap
from pipeline.replay.sources import ArchiveSource, ArticleFilter, StoredArticles, TimeRange
from schemas import encode
from tests.fixtures.fake_predictor import KeywordPredictor
from tests.fixtures.replay_data import START, articles, stored


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    eng = make_engine(sqlite_url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def write_archive(path: Path) -> Path:
    lines = [
        {"headline": "Acme beats", "date": "2020-03-01T10:00:00Z", "link": "https://e.com/1"},
        {"headline": "Acme misses", "date": "2020-03-02T10:00:00Z", "link": "https://e.com/2"},
        {"headline": "", "date": "2020-03-02T11:00:00Z"},
        {"headline": "Late news", "date": "2020-04-01T10:00:00Z", "link": "https://e.com/3"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    return path


def test_archive_items_dead_letters_and_resume(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "news.jsonl")
    source = ArchiveSource([path], ColumnMap.parse(["title=headline"]), source="archive",
                           time_range=TimeRange(START, START + timedelta(days=10)))
    items = list(source.items(None))
    assert [i.news.title for i in items if i.news] == ["Acme beats", "Acme misses"]
    letters = [i.letter for i in items if i.letter]
    assert [(lt.stage, lt.error_type) for lt in letters] == [("ingest", "InvalidItem"), ("ingest", "InvalidJson")]
    assert all(i.news is None or i.news.published_at.year == 2020 for i in items)
    assert source.total(None) == 5
    resumed = list(source.items(items[0].position))
    assert [i.position for i in resumed] == [i.position for i in items[1:]]


def test_stored_articles_in_keyset_order_with_ties_and_resume(engine: Engine) -> None:
    news = articles(25)
    stored(engine, news)
    source = StoredArticles(engine, page_size=4)
    got = list(source.items(None))
    assert [i.news.id for i in got if i.news] == [n.id for n in sorted(news, key=lambda n: (n.published_at, n.id))]
    assert source.total(None) == 25
    cut = got[9].position
    assert source.total(cut) == 15
    assert [i.news.id for i in source.items(cut) if i.news] == [i.news.id for i in got[10:] if i.news]
    first = got[0].news
    assert first is not None and first.published_at == min(n.published_at for n in news)
    assert first.ingested_at == next(n for n in news if n.id == first.id).ingested_at


def test_stored_article_filters(engine: Engine) -> None:
    news = articles(40)
    stored(engine, news)
    predictor = KeywordPredictor("v1")
    outcome = process_batch([BatchItem(n, Origin("t"), encode(n)) for n in news], predictor, lambda a, e: store_batch(engine, a, e))
    topics = {e.news_id: e.topic for e in outcome.enriched}

    def ids(f: ArticleFilter) -> set[str]:
        return {i.news.id for i in StoredArticles(engine, f).items(None) if i.news}

    window = TimeRange(START + timedelta(minutes=5), START + timedelta(minutes=10))
    assert ids(ArticleFilter(time_range=window)) == {n.id for n in news if n.published_at in window}
    assert ids(ArticleFilter(topics=("Macro",))) == {k for k, t in topics.items() if t == "Macro"}
    assert ids(ArticleFilter(query="GLOBEX")) == {n.id for n in news if "Globex" in n.title}
    acme = {n.id for n in news if "$ACME" in n.title or "ACME" in n.tickers}
    assert ids(ArticleFilter(tickers=("acme",))) == acme
    assert ids(ArticleFilter(entities=("glbx",))) == {n.id for n in news if "$GLBX" in n.title}
    assert ids(ArticleFilter(topics=("Macro",), version="nope")) == set()


def test_archive_rows_without_an_event_time_are_dead_letters_never_now(tmp_path: Path) -> None:
    """Two rows broken over lines (as in a real 9,993-row archive) lose their date: each becomes a
    dead letter with the reason, none is stored with the time of the replay."""
    path = tmp_path / "archive.csv"
    path.write_text(
        'headline,date\n"Fed holds rates",2011-03-02T10:00:00Z\n"Oil slides\non demand",\n'
        '2011-03-02T11:00:00Z,\n"Acme beats",2011-03-03T09:00:00Z\n',
        encoding="utf-8",
    )
    source = ArchiveSource([path], ColumnMap.parse(["title=headline", "published_at=date"]))
    items = list(source.items(None))
    news = [i.news for i in items if i.news is not None]
    letters = [i.letter for i in items if i.letter is not None]
    assert [n.title for n in news] == ["Fed holds rates", "Acme beats"]
    assert all(n.published_at.year == 2011 for n in news)
    assert len(letters) == 2 and all("no event time" in letter.reason for letter in letters)
    assert {letter.error_type for letter in letters} == {"NoEventTime"}
