from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.dedup import Deduplicator, normalize_title
from schemas import RawNews

T = datetime(2026, 11, 27, 14, tzinfo=UTC)


def news(title: str, *, url: str | None = None, source: str = "wire", at: datetime = T) -> RawNews:
    return RawNews(source=source, title=title, url=url, published_at=at)


LONG = "Northwind Energy shares jump after company raises full-year production guidance"


class TestNormalizeTitle:
    @pytest.mark.parametrize(
        ("title", "expected"),
        [
            ("Apple beats estimates - Reuters", "apple beats estimates"),
            ("Tesla recalls cars | Wall Street Journal", "tesla recalls cars"),
            ("UPDATE 2-Oil climbs as OPEC+ extends cuts", "oil climbs as opec extends cuts"),
            ("BREAKING: Fed holds rates", "fed holds rates"),
            ("  Fed   HOLDS rates!!! ", "fed holds rates"),
        ],
    )
    def test_folds(self, title: str, expected: str) -> None:
        assert normalize_title(title) == expected

    def test_lowercase_suffix_is_not_a_publisher(self) -> None:
        assert normalize_title("Apple beats - shares up") == "apple beats shares up"
        assert normalize_title("Apple beats - shares down") != normalize_title("Apple beats - shares up")

    def test_suffix_equal_to_source_is_stripped(self) -> None:
        assert normalize_title("Apple beats - the daily ledger", source="The Daily Ledger") == "apple beats"


class TestVerdicts:
    def test_first_is_unique_then_duplicate_id(self) -> None:
        d = Deduplicator()
        a = news("Acme beats", url="https://example.com/a")
        assert d.check(a).kind == "unique"
        again = d.check(news("Acme beats (updated)", url="https://example.com/a?utm_source=x"))
        assert (again.kind, again.duplicate_of) == ("duplicate_id", a.id)

    def test_title_duplicate_from_another_source(self) -> None:
        d = Deduplicator()
        a = news("Oil climbs as producers extend cuts", url="https://a.example.com/1")
        d.check(a)
        b = news(
            "Oil climbs as producers extend cuts - Finance Post",
            url="https://b.example.com/2",
            source="Finance Post",
        )
        verdict = d.check(b)
        assert (verdict.kind, verdict.duplicate_of) == ("duplicate_title", a.id)
        assert verdict.is_duplicate

    def test_near_duplicate(self) -> None:
        d = Deduplicator()
        a = news(LONG, url="https://a.example.com/1")
        d.check(a)
        verdict = d.check(
            news(
                LONG.replace("after company raises", "after the company raises its"),
                url="https://b.example.com/2",
            )
        )
        assert verdict.kind == "near_duplicate"
        assert verdict.duplicate_of == a.id
        assert verdict.distance is not None and verdict.distance <= 3

    @pytest.mark.parametrize(
        "other",
        [
            "Northwind Energy shares slump after company cuts full-year production guidance",
            "Markets close higher on tech rally",
            "Northwind Energy shares jump 5% after company raises full-year production guidance",
        ],
    )
    def test_different_stories_are_unique(self, other: str) -> None:
        d = Deduplicator()
        d.check(news(LONG, url="https://a.example.com/1"))
        assert d.check(news(other, url="https://b.example.com/2")).kind == "unique"

    def test_window_eviction_is_lru(self) -> None:
        d = Deduplicator(window=2)
        a, b, c = (news(f"Story {n} about markets", url=f"https://example.com/{n}") for n in "abc")
        d.check(a)
        d.check(b)
        assert d.check(a).kind == "duplicate_id"  # refreshes a: b is now the oldest
        d.check(c)  # evicts b
        assert len(d) == 2
        assert d.check(b).kind == "unique"
        assert (
            d.check(news("Story b about markets", url="https://other.example.com/b")).kind
            == "duplicate_title"
        )

    def test_ttl_bounds_title_matches_in_event_time(self) -> None:
        d = Deduplicator(ttl=timedelta(hours=24))
        d.check(news("Stocks to watch this morning", at=T))
        assert d.check(
            news("Stocks to watch this morning", source="x", at=T + timedelta(hours=2))
        ).is_duplicate
        assert d.check(news("Stocks to watch this morning", at=T + timedelta(days=2))).kind == "unique"
        # the newer one is now the title's reference
        assert d.check(
            news("Stocks to watch this morning", source="y", at=T + timedelta(days=2, hours=1))
        ).is_duplicate

    def test_forget(self) -> None:
        d = Deduplicator()
        a = news(LONG)
        d.check(a)
        d.forget(a.id)
        assert d.check(a).kind == "unique"

    def test_thread_safe(self) -> None:
        d = Deduplicator(window=500)
        items = [
            news(f"Headline number {n} on company results", url=f"https://example.com/{n}")
            for n in range(300)
        ]
        kinds: list[str] = []
        lock = threading.Lock()

        def run() -> None:
            for item in items:
                verdict = d.check(item)
                with lock:
                    kinds.append(verdict.kind)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert kinds.count("unique") == 300


titles = st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P"]), min_size=1, max_size=80).filter(
    lambda s: s.strip()
)


@settings(max_examples=150, deadline=None)
@given(first=st.lists(titles, max_size=20), title=titles, window=st.integers(1, 10))
def test_an_item_is_never_its_own_duplicate_unless_seen_before(
    first: list[str], title: str, window: int
) -> None:
    d = Deduplicator(window=window)
    for n, other in enumerate(first):
        d.check(news(other, url=f"https://example.com/{n}"))
    item = news(title, url="https://example.com/the-item")
    verdict = d.check(item)
    assert verdict.duplicate_of != item.id  # not seen before: never a duplicate of itself
    again = d.check(item)
    assert again.is_duplicate
    if verdict.kind == "unique":  # remembered: now it is a duplicate of itself
        assert (again.kind, again.duplicate_of) == ("duplicate_id", item.id)


@settings(max_examples=100, deadline=None)
@given(title=titles)
def test_first_item_is_unique(title: str) -> None:
    assert Deduplicator().check(news(title)).kind == "unique"
