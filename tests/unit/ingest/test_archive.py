from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from pipeline.ingest.sources.archive import ColumnMap, ColumnMapError, read_archive
from pipeline.ingest.sources.stdin import read_jsonl_stream


class TestColumnMap:
    def test_parse(self) -> None:
        m = ColumnMap.parse(["title=headline", "published_at = date", "ticker=sym"])
        assert dict(m.columns) == {"title": "headline", "published_at": "date", "tickers": "sym"}

    @pytest.mark.parametrize(
        ("specs", "message"),
        [
            (["title"], "expected FIELD=COLUMN"),
            (["title="], "expected FIELD=COLUMN"),
            (["=col"], "expected FIELD=COLUMN"),
            (["titel=headline"], "unknown field 'titel'; known fields: title, body"),
            (["title=a", "title=b"], "mapped more than once"),
            (["ticker=a", "tickers=b"], "mapped more than once"),
        ],
    )
    def test_errors(self, specs: list[str], message: str) -> None:
        with pytest.raises(ColumnMapError, match=message):
            ColumnMap.parse(specs)

    def test_apply_renames_mapped_columns(self) -> None:
        m = ColumnMap.parse(["title=headline", "body=text"])
        assert m.apply({"headline": "H", "text": "B", "extra": 1}) == {"title": "H", "body": "B", "extra": 1}


class TestReadArchive:
    def test_csv_with_map_and_bad_row(self, tmp_path: Path) -> None:
        path = tmp_path / "a.csv"
        path.write_text(
            'headline,date,sym\n"Acme, Inc. beats",2026-11-27T14:00:00Z,ACME\nx,y,z,extra\n', encoding="utf-8"
        )
        records = list(
            read_archive(path, ColumnMap.parse(["title=headline", "published_at=date", "tickers=sym"]))
        )
        assert records[0].item == {
            "title": "Acme, Inc. beats",
            "published_at": "2026-11-27T14:00:00Z",
            "tickers": "ACME",
        }
        assert records[0].raw == b'"Acme, Inc. beats",2026-11-27T14:00:00Z,ACME'
        assert records[0].origin == "a.csv:2"
        assert records[1].item is None and records[1].error_type == "InvalidRow"
        assert records[1].raw == b"x,y,z,extra"

    def test_csv_missing_column_fails_before_reading(self, tmp_path: Path) -> None:
        path = tmp_path / "a.csv"
        path.write_text("headline,date\nA,B\n", encoding="utf-8")
        with pytest.raises(
            ColumnMapError, match=r"column\(s\) 'body_text' not in header \(columns: headline, date\)"
        ):
            read_archive(path, ColumnMap.parse(["title=headline", "body=body_text"]))

    def test_jsonl_gz_keeps_raw_lines_and_flags_bad_ones(self, tmp_path: Path) -> None:
        path = tmp_path / "a.jsonl.gz"
        lines = [json.dumps({"h": "Acme beats", "date": "2020-01-02"}).encode(), b"", b"{not json", b"[1, 2]"]
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        records = list(read_archive(path, ColumnMap.parse(["title=h"])))
        assert [r.item for r in records] == [{"title": "Acme beats", "date": "2020-01-02"}, None, None]
        assert [r.raw for r in records] == [lines[0], lines[2], lines[3]]
        assert [r.error_type for r in records] == [None, "InvalidJson", "InvalidItem"]
        assert records[1].origin == "a.jsonl.gz:3"

    def test_rows_without_an_event_time_are_unreadable_with_the_reason(self, tmp_path: Path) -> None:
        path = tmp_path / "a.csv"
        path.write_text('headline,date\nAcme beats,2020-01-02\n"broken\nover two lines"\nNo date,\n', encoding="utf-8")
        records = list(read_archive(path, ColumnMap.parse(["title=headline", "published_at=date"])))
        assert [r.error_type for r in records] == [None, "NoEventTime", "NoEventTime"]
        assert all("no event time" in (r.error or "") for r in records[1:])

    def test_unknown_extension(self, tmp_path: Path) -> None:
        with pytest.raises(ColumnMapError, match="unknown archive type"):
            read_archive(tmp_path / "a.xlsx")

    def test_stdin_stream(self) -> None:
        stream = io.BytesIO(b'{"title": "A"}\r\n\n  \nnope\n')
        records = list(read_jsonl_stream(stream))
        assert [r.origin for r in records] == ["stdin:1", "stdin:4"]
        assert records[0].item == {"title": "A"} and records[1].error_type == "InvalidJson"
