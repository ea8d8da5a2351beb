from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest.normalize import (
    InvalidItem,
    extract_tickers,
    guess_language,
    normalize,
    parse_datetime,
    plain_text,
)
from schemas import RawNews, clean_line, clean_text
from schemas.news import MAX_BODY_CHARS
from tests.unit.ingest.fakes import NOW

NY = ZoneInfo("America/New_York")


def item(**fields: object) -> dict[str, object]:
    return {"title": "Acme Corp beats quarterly estimates", "published_at": "2026-11-27T14:00:00Z", **fields}


class TestText:
    def test_html_is_stripped_and_entities_unescaped(self) -> None:
        raw = normalize(
            item(
                title="<b>Acme</b> &amp; Co. beats",
                body="<p>Shares rose&nbsp;5%.</p><script>evil()</script><p>Good.</p>",
            ),
            source="t",
            now=NOW,
        )
        assert raw.title == "Acme & Co. beats"
        assert raw.body == "Shares rose 5%.\nGood."  # a paragraph is a line

    def test_whitespace_collapsed_and_zero_width_removed(self) -> None:
        one_line = plain_text("  Acme\n\t beats \u200bestimates\u00a0 today ", keep_newlines=False)
        assert one_line == "Acme beats estimates today"
        lines = plain_text("  Acme\n\t beats \u200bestimates\u00a0 today ", keep_newlines=True)
        assert lines == "Acme\nbeats estimates today"

    def test_plain_ampersand_and_angle_bracket_survive(self) -> None:
        for keep in (False, True):
            assert plain_text("AT&T < 5% of S&P", keep_newlines=keep) == "AT&T < 5% of S&P"

    def test_the_body_keeps_its_line_breaks_the_title_does_not(self) -> None:
        """The sentence splitter ends a sentence at a line break: the body must reach the model with them."""
        raw = normalize(
            item(title="Acme beats\r\nestimates", body="Acme rose.\r\n\r\nBeta Corp fell\u2028too"),
            source="t",
            now=NOW,
        )
        assert raw.title == "Acme beats estimates"
        assert raw.body == "Acme rose.\nBeta Corp fell\ntoo"
        assert raw.text == "Acme beats estimates\nAcme rose.\nBeta Corp fell\ntoo"

    def test_markup_breaks_lines_at_block_elements_not_at_its_own_wrapping(self) -> None:
        html = "<p>Acme rose\n  5%.</p><ul><li>Beta &amp; Co fell</li></ul>one<br>two &lt;3"
        assert plain_text(html, keep_newlines=True) == "Acme rose 5%.\nBeta & Co fell\none\ntwo <3"
        assert plain_text(html, keep_newlines=False) == "Acme rose 5%. Beta & Co fell one two <3"
        assert plain_text("AT&T\nrose", keep_newlines=True) == "AT&T\nrose"  # entities only: not markup

    @given(st.text(), st.booleans())
    def test_the_contract_stores_what_ingest_cleaned(self, value: str, keep: bool) -> None:
        """One cleaner: ingest's output passes the contract's sanitiser unchanged (no second opinion)."""
        cleaned = plain_text(value, keep_newlines=keep)
        assert (clean_text if keep else clean_line)(cleaned) == cleaned
        assert cleaned == cleaned.strip() and "  " not in cleaned and "\n\n" not in cleaned
        assert keep or "\n" not in cleaned
        if keep and cleaned:
            assert RawNews(source="t", title="t", body=cleaned, published_at=NOW).body == cleaned

    def test_aliases_and_feedparser_content_list(self) -> None:
        raw = normalize(
            {
                "headline": "Acme beats",
                "link": "https://example.com/a",
                "pubDate": "Fri, 27 Nov 2026 14:00:00 GMT",
                "content": [{"value": "<div>Body</div>"}],
            },
            source="t",
            now=NOW,
        )
        assert (raw.title, raw.url, raw.body) == ("Acme beats", "https://example.com/a", "Body")


class TestTime:
    def test_iso_with_zone(self) -> None:
        assert parse_datetime("2026-11-27T09:00:00-05:00") == datetime(2026, 11, 27, 14, tzinfo=UTC)

    def test_iso_z(self) -> None:
        assert parse_datetime("2026-11-27T14:00:00Z") == datetime(2026, 11, 27, 14, tzinfo=UTC)

    def test_naive_iso_uses_configured_zone(self) -> None:
        assert parse_datetime("2026-07-01T09:30:00", default_tz=NY) == datetime(
            2026, 7, 1, 13, 30, tzinfo=UTC
        )
        assert parse_datetime("2026-12-01T09:30:00", default_tz=NY) == datetime(
            2026, 12, 1, 14, 30, tzinfo=UTC
        )

    def test_naive_defaults_to_utc(self) -> None:
        assert parse_datetime("2026-11-27 14:00:00") == datetime(2026, 11, 27, 14, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Fri, 27 Nov 2026 14:00:00 GMT", datetime(2026, 11, 27, 14, tzinfo=UTC)),
            ("Fri, 27 Nov 2026 09:00:00 -0500", datetime(2026, 11, 27, 14, tzinfo=UTC)),
            ("Fri, 27 Nov 2026 09:00:00 EST", datetime(2026, 11, 27, 14, tzinfo=UTC)),
            ("27 Nov 26 14:00 +0000", datetime(2026, 11, 27, 14, tzinfo=UTC)),
        ],
    )
    def test_rfc822(self, text: str, expected: datetime) -> None:
        assert parse_datetime(text) == expected

    def test_rfc822_unknown_zone_uses_configured_zone(self) -> None:
        assert parse_datetime("Fri, 27 Nov 2026 09:00:00 -0000", default_tz=NY) == datetime(
            2026, 11, 27, 14, tzinfo=UTC
        )

    @pytest.mark.parametrize("value", [1_795_788_000, 1_795_788_000.0, "1795788000", 1_795_788_000_000])
    def test_epoch_seconds_and_millis(self, value: object) -> None:
        assert parse_datetime(value) == datetime.fromtimestamp(1_795_788_000, UTC)

    def test_datetime_and_struct_time(self) -> None:
        aware = datetime(2026, 11, 27, 15, tzinfo=timezone(timedelta(hours=1)))
        assert parse_datetime(aware) == datetime(2026, 11, 27, 14, tzinfo=UTC)
        assert parse_datetime(time.struct_time((2026, 11, 27, 14, 0, 0, 4, 331, 0))) == datetime(
            2026, 11, 27, 14, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        "value", ["yesterday afternoon", "2026-13-45", "", True, ["2026"], "Fri, 31 Feb 2026 10:00:00 GMT"]
    )
    def test_bad_dates_are_invalid_with_reason(self, value: object) -> None:
        with pytest.raises(InvalidItem) as info:
            normalize(item(published_at=value), source="t", now=NOW) if value != "" else parse_datetime(value)
        assert info.value.field == "published_at"
        assert info.value.reason

    def test_far_future_is_invalid(self) -> None:
        with pytest.raises(InvalidItem, match="wrong time zone"):
            normalize(item(published_at=(NOW + timedelta(days=3)).isoformat()), source="t", now=NOW)

    def test_missing_time_is_now(self) -> None:
        raw = normalize({"title": "Acme beats"}, source="t", now=NOW)
        assert raw.published_at == NOW


class TestValidity:
    def test_missing_title(self) -> None:
        with pytest.raises(InvalidItem) as info:
            normalize({"body": "x", "published_at": "2026-11-27T14:00:00Z"}, source="t", now=NOW)
        assert info.value.field == "title"

    def test_html_only_title_is_missing(self) -> None:
        with pytest.raises(InvalidItem, match="title"):
            normalize(item(title="<img src='x.png'>"), source="t", now=NOW)

    def test_over_limit_body_is_invalid_not_truncated(self) -> None:
        with pytest.raises(InvalidItem) as info:
            normalize(item(body="x" * (MAX_BODY_CHARS + 1)), source="t", now=NOW)
        assert info.value.field == "body"

    def test_not_a_mapping(self) -> None:
        with pytest.raises(InvalidItem, match="JSON object"):
            normalize(["a"], source="t", now=NOW)  # type: ignore[arg-type]

    def test_wrong_type_title(self) -> None:
        with pytest.raises(InvalidItem, match="expected text"):
            normalize(item(title={"a": 1}), source="t", now=NOW)


class TestIdsAndFields:
    def test_id_stable_across_tracking_params_and_sources(self) -> None:
        a = normalize(
            item(url="https://Example.com/news/acme/?utm_source=x&utm_medium=y"), source="a", now=NOW
        )
        b = normalize(item(url="https://example.com/news/acme#top", source="Other"), source="b", now=NOW)
        assert a.id == b.id

    def test_id_without_url_is_source_title_time(self) -> None:
        a = normalize(item(), source="wire", now=NOW)
        b = normalize(
            item(title="  Acme Corp   beats quarterly estimates "),
            source="wire",
            now=NOW + timedelta(hours=1),
        )
        c = normalize(item(), source="other", now=NOW)
        assert a.id == b.id != c.id

    def test_item_source_wins_over_configured(self) -> None:
        assert normalize(item(source="Example Wire"), source="file.jsonl", now=NOW).source == "Example Wire"
        assert normalize(item(), source="file.jsonl", now=NOW).source == "file.jsonl"

    def test_tickers_from_hints_and_cashtags(self) -> None:
        assert extract_tickers("aapl, $MSFT; NASDAQ:NVDA bad!", "Watch $TSLA and $BRK.B, not $5") == (
            "AAPL",
            "MSFT",
            "NVDA",
            "TSLA",
            "BRK.B",
        )
        raw = normalize(item(title="$ACME rallies", ticker="ACME", tickers=None), source="t", now=NOW)
        assert raw.tickers == ("ACME",)

    def test_language(self) -> None:
        assert normalize(item(), source="t", now=NOW).language == "en"
        assert normalize(item(language="DE"), source="t", now=NOW).language == "de"
        assert guess_language("Up 5%") == "und"
        assert guess_language("Die Aktien der Deutschen Bank stiegen am Freitag deutlich an") == "de"

    def test_ingested_at_is_the_clock(self) -> None:
        assert normalize(item(), source="t", now=NOW).ingested_at == NOW


class TestUndatedAndHostileInput:
    def test_item_without_link_and_date_keeps_its_id_across_polls(self) -> None:
        undated = {"title": "Markets open mixed", "source": "wire"}
        first = normalize(undated, source="feed", now=NOW)
        later = normalize(undated, source="feed", now=NOW + timedelta(minutes=5))
        assert first.id == later.id
        assert (first.published_at, later.published_at) == (NOW, NOW + timedelta(minutes=5))
        dated = normalize({**undated, "published_at": "2026-11-27T14:00:00Z"}, source="feed", now=NOW)
        assert dated.id != first.id

    @pytest.mark.parametrize(
        ("fields", "field", "fragment"),
        [
            ({"url": "http://[broken"}, "url", "not a usable URL"),
            ({"url": "http://example.com:99999/a"}, "url", "not a usable URL"),
            ({"published_at": 10**400}, "published_at", "out of range"),
            ({"published_at": float("inf")}, "published_at", "out of range"),
            ({"published_at": "0001-01-01T00:00:00+05:00"}, "published_at", "out of range in UTC"),
        ],
    )
    def test_hostile_values_are_invalid_items(self, fields: dict[str, object], field: str, fragment: str) -> None:
        with pytest.raises(InvalidItem) as info:
            normalize(item(**fields), source="feed", now=NOW)
        assert info.value.field == field
        assert fragment in info.value.reason

    def test_lone_surrogates_are_replaced_not_fatal(self) -> None:
        """The contract's sanitising step keeps the story: each lone surrogate becomes U+FFFD."""
        news = normalize(item(title="lone \ud800 surrogate", source="wire \udfff"), source="feed", now=NOW)
        assert news.title == "lone \ufffd surrogate" and news.source == "wire \ufffd"
        news.title.encode("utf-8")  # storable and hashable
