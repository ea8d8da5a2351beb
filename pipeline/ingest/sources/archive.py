"""Archive files: CSV or JSON Lines (optionally .gz), with a column map to `RawNews` fields.

`--map title=headline --map published_at=date` says which column holds which field; fields not
mapped are read from columns of their own name (and the aliases `normalize` knows).

Event time: an archive row is history, so it must say when it was published. A row with no
`published_at` (under any alias `normalize` reads), e.g. a CSV record broken over two lines, comes
back unreadable (`error_type="NoEventTime"`) and goes to the dead letters with that reason,
never stamped with the time of reading. (Live feeds may fall back to the fetch time; that is
ingest's documented rule, not an archive's.)
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipeline.ingest.normalize import FIELD_ALIASES
from pipeline.ingest.sources.records import SourceRecord, parse_json_line

MAPPABLE_FIELDS: tuple[str, ...] = ("title", "body", "url", "published_at", "source", "language", "tickers")
_FIELD_ALIASES = {"ticker": "tickers", "symbols": "tickers", "published": "published_at", "link": "url"}


class ColumnMapError(ValueError):
    """A `--map` option or a file's header does not fit."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """`RawNews` field -> column name in the archive."""

    columns: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> ColumnMap:
        """From `field=COLUMN` strings (the `--map` option)."""
        pairs: dict[str, str] = {}
        for spec in specs:
            name, sep, column = (part.strip() for part in spec.partition("="))
            if not sep or not name or not column:
                raise ColumnMapError(f"--map {spec!r}: expected FIELD=COLUMN, e.g. --map title=headline")
            if name in pairs:
                raise ColumnMapError(f"--map: field {name!r} mapped more than once")
            pairs[name] = column
        return cls.from_mapping(pairs, what="--map")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str], *, what: str = "map") -> ColumnMap:
        columns: dict[str, str] = {}
        for name, column in mapping.items():
            canonical = _FIELD_ALIASES.get(name, name)
            if canonical not in MAPPABLE_FIELDS:
                raise ColumnMapError(
                    f"{what}: unknown field {name!r}; known fields: {', '.join(MAPPABLE_FIELDS)}"
                )
            if canonical in columns:
                raise ColumnMapError(f"{what}: field {canonical!r} mapped more than once")
            if not isinstance(column, str) or not column:
                raise ColumnMapError(f"{what}: column for {name!r} must be a non-empty string")
            columns[canonical] = column
        return cls(columns)

    def apply(self, row: Mapping[str, object]) -> dict[str, object]:
        """The item for `normalize`: the row, with mapped columns under their field names."""
        item = dict(row)
        for name, column in self.columns.items():
            item.pop(column, None)
            item[name] = row.get(column)
        return item

    def check_header(self, header: Iterable[str], *, path: Path) -> None:
        missing = [column for column in self.columns.values() if column not in set(header)]
        if missing:
            raise ColumnMapError(
                f"{path}: column(s) {', '.join(map(repr, missing))} not in header "
                f"(columns: {', '.join(header)})"
            )


NO_EVENT_TIME = "NoEventTime"


def with_event_time(record: SourceRecord) -> SourceRecord:
    """`record`, or an unreadable one saying why when its item has no `published_at` value."""
    if record.item is None:
        return record
    if any(record.item.get(key) not in (None, "") for key in FIELD_ALIASES["published_at"]):
        return record
    return SourceRecord(
        record.raw,
        None,
        record.origin,
        "no event time: published_at is missing or empty (an archive row must say when it was published)",
        NO_EVENT_TIME,
    )


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] == ".csv":
        return "csv"
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ColumnMapError(f"{path}: unknown archive type (expected .csv, .jsonl or .ndjson, optionally .gz)")


def read_archive(path: Path, column_map: ColumnMap | None = None) -> Iterator[SourceRecord]:
    """Yield one record per row; the file's type comes from its extension. A row without an event
    time comes back unreadable (see the module docstring).

    Raises `ColumnMapError` before the first row when a mapped CSV column is missing.
    """
    column_map = column_map or ColumnMap()
    kind = _kind(path)
    return _read_csv(path, column_map) if kind == "csv" else _read_jsonl(path, column_map)


def _read_jsonl(path: Path, column_map: ColumnMap) -> Iterator[SourceRecord]:
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            record = parse_json_line(raw, f"{path.name}:{number}")
            if record.item is not None:
                record = SourceRecord(raw, column_map.apply(record.item), record.origin)
            yield with_event_time(record)


def _read_csv(path: Path, column_map: ColumnMap) -> Iterator[SourceRecord]:
    handle = _open(path)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = list(reader.fieldnames or [])
        column_map.check_header(header, path=path)
    except BaseException:
        text.close()
        raise

    def rows() -> Iterator[SourceRecord]:
        with text:
            for row in reader:
                origin = f"{path.name}:{reader.line_num}"
                raw = _csv_bytes(header, row)
                if None in row:  # more cells than header columns
                    cells = len(header) + len(row[None])  # type: ignore[index]
                    yield SourceRecord(
                        raw, None, origin, f"row has {cells} cells, header has {len(header)}", "InvalidRow"
                    )
                    continue
                yield with_event_time(SourceRecord(raw, column_map.apply(row), origin))

    return rows()


def _csv_bytes(header: list[str], row: Mapping[str | None, object]) -> bytes:
    """The row re-serialised as one CSV record (the DLQ payload of a CSV row)."""
    out = io.StringIO()
    cells = [row.get(name) or "" for name in header] + list(row.get(None) or [])  # type: ignore[arg-type]
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue().encode("utf-8")
