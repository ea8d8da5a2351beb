"""The sources YAML of `finsent ingest --sources FILE`, validated; errors name the file and field.

```yaml
feeds:
  - url: https://example.com/markets.rss
    name: example-markets        # default: the feed's host
    interval_s: 300
    timezone: America/New_York   # for naive times in the feed; default UTC
files:
  - path: archive/headlines.csv  # relative to this YAML file
    map: {title: headline, published_at: date}
    source: archive
    timezone: Europe/London
```

HTTP push is not a source here any more: it is `finsent serve` (a `serve:` key is an error that
says so).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.ingest.sources.archive import ColumnMap, ColumnMapError


class SourcesConfigError(ValueError):
    """The sources file is unreadable or invalid; the message names the file and the field."""


def parse_timezone(name: str) -> tzinfo:
    """`UTC` or an IANA zone name (`America/New_York`); ValueError otherwise."""
    if name.strip().upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as America/New_York)") from exc


def _check_zone(name: str) -> str:
    parse_timezone(name)
    return name


ZoneName = Annotated[str, AfterValidator(_check_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeedConfig(_Strict):
    url: str = Field(pattern=r"^https?://\S+$")
    name: str = ""
    interval_s: float = Field(default=300.0, gt=0)
    timezone: ZoneName = "UTC"

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone)


class FileConfig(_Strict):
    path: Path
    map: dict[str, str] = Field(default_factory=dict)
    source: str = ""
    timezone: ZoneName = "UTC"

    @field_validator("map")
    @classmethod
    def _check_map(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            ColumnMap.from_mapping(value, what="column map")
        except ColumnMapError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone)

    @property
    def column_map(self) -> ColumnMap:
        return ColumnMap.from_mapping(self.map)


class SourcesConfig(_Strict):
    feeds: tuple[FeedConfig, ...] = ()
    files: tuple[FileConfig, ...] = ()


def load_sources(path: Path) -> SourcesConfig:
    """Read and validate a sources YAML; relative file paths are resolved against its folder."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise SourcesConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SourcesConfigError(
            f"{path}: expected a mapping with feeds/files, got {type(data).__name__}"
        )
    if "serve" in data:
        raise SourcesConfigError(
            f"{path}: serve: HTTP push moved to `finsent serve --host H --port P` (its own process); "
            "remove the serve: section"
        )
    try:
        config = SourcesConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()
        )
        raise SourcesConfigError(f"{path}: {problems}") from exc
    files = tuple(
        f.model_copy(update={"path": f.path if f.path.is_absolute() else path.parent / f.path})
        for f in config.files
    )
    return config.model_copy(update={"files": files})


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


__all__ = [
    "FeedConfig",
    "FileConfig",
    "SourcesConfig",
    "SourcesConfigError",
    "load_sources",
    "parse_timezone",
]
