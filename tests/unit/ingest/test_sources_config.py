from __future__ import annotations

from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.ingest.sources_config import SourcesConfigError, load_sources


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - {url: "https://example.com/a.rss", name: a, interval_s: 60, timezone: America/New_York}
files:
  - {path: data/a.csv, map: {title: headline}, source: archive}
""",
    )
    config = load_sources(path)
    assert config.feeds[0].tz == ZoneInfo("America/New_York")
    assert config.files[0].path == tmp_path / "data" / "a.csv"
    assert dict(config.files[0].column_map.columns) == {"title": "headline"}
    assert config.files[0].tz is UTC


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("feeds:\n  - {url: ftp://x}\n", "feeds[0].url"),
        ("feeds:\n  - {url: 'https://x', interval_s: 0}\n", "feeds[0].interval_s"),
        (
            "feeds:\n  - {url: 'https://x', timezone: Mars/Base}\n",
            "feeds[0].timezone: unknown time zone 'Mars/Base'",
        ),
        ("files:\n  - {path: a.csv, map: {titel: x}}\n", "files[0].map: column map: unknown field 'titel'"),
        ("files:\n  - {map: {title: x}}\n", "files[0].path: Field required"),
        ("serve: {port: 8080}\n", "serve: HTTP push moved to `finsent serve"),
        ("feed: []\n", "feed: Extra inputs are not permitted"),
        ("- a\n- b\n", "expected a mapping"),
        ("feeds: [\n", "not valid YAML"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SourcesConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesConfigError, match="cannot read"):
        load_sources(tmp_path / "nope.yaml")


def test_the_shipped_sources_file_is_valid() -> None:
    shipped = Path(__file__).resolve().parents[3] / "deploy" / "sources.yaml"
    config = load_sources(shipped)
    assert config.feeds and all(feed.url.startswith("https://") for feed in config.feeds)
