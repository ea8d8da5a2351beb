"""The ingest process loop and the command's option handling, with a checked-send producer stand-in."""

from __future__ import annotations

import argparse
import io
import threading
from pathlib import Path

import pytest

from pipeline.ingest.samples import NEWS_JSONL
from pipeline.ingest.sources.archive import ColumnMapError
from tests.fixtures import sample_counts as sample
from tests.fixtures.fake_producer import FakeProducer
from workers.commands import ingest as command
from workers.ingest import FileSource, IngestPlan, run_ingest


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    return parser.parse_args(["ingest", *argv])


@pytest.mark.parametrize("batch_size", [1, 7, 200])
def test_file_and_stdin(producer: FakeProducer, batch_size: int) -> None:
    stdin = io.BytesIO(b'{"title": "Stdin story about markets"}\nnot json\n')
    plan = IngestPlan(files=(FileSource(NEWS_JSONL),), stdin=True, batch_size=batch_size)
    counts = run_ingest(plan, producer, stop=threading.Event(), topic_raw="raw", topic_dlq="dlq", stdin=stdin)
    stdin_counts = {"ingested": 2, "produced": 1, "dlq": 1}  # one story, one line that is not JSON
    assert counts.as_dict() == {k: v + stdin_counts.get(k, 0) for k, v in sample.COUNTS.items()}
    assert len(producer.sent) == sample.PRODUCED + 1 + sample.DLQ + 1


def test_bad_rows_do_not_stop_a_file(producer: FakeProducer, tmp_path: Path) -> None:
    """A lone surrogate, a bad date, wrong types, broken JSON: each row is dead-lettered, the run goes on."""
    lines = [
        b'{"title": "Good story one about markets", "url": "https://example.com/1", "published_at": "2026-03-02T09:00:00Z"}',
        b'{"title": "Lone \\ud800 surrogate"}',
        b'{"title": "Bad date", "published_at": "31/31/2026"}',
        b'{"title": ["not", "text"]}',
        b'{"title": "Huge epoch", "published_at": 1e400}',
        b'{"title": "Broken',
        b'{"title": "NUL \\u0000 inside", "url": "https://example.com/nul"}',
        b'{"title": "Good story two about markets", "url": "https://example.com/2", "published_at": "2026-03-02T10:00:00Z"}',
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    counts = run_ingest(IngestPlan(files=(FileSource(path),), batch_size=3), producer, stop=threading.Event())
    assert counts.ingested == len(lines)
    assert counts.ingested == counts.produced + counts.deduplicated + counts.dlq
    assert counts.produced == 2  # the two good stories (a file row needs its event time)
    assert counts.dlq == len(lines) - 2


def test_stop_event_ends_file_reading(producer: FakeProducer) -> None:
    stop = threading.Event()
    stop.set()
    counts = run_ingest(IngestPlan(files=(FileSource(NEWS_JSONL),)), producer, stop=stop)
    assert counts.ingested == 0


def test_build_plan_from_options(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("h,d\n", encoding="utf-8")
    plan = command.build_plan(
        parse(
            "--file",
            str(csv),
            "--map",
            "title=h",
            "--map",
            "published_at=d",
            "--timezone",
            "Europe/London",
            "--feed",
            "https://example.com/a.rss",
            "--once",
            "--source",
            "arch",
        )
    )
    assert plan.files[0].label == "arch" and dict(plan.files[0].column_map.columns)["title"] == "h"
    assert plan.feeds[0].url == "https://example.com/a.rss" and plan.once and not plan.runs_until_stopped


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--file", "nope.csv"], "no such file"),
        (["--map", "title=x"], "--map applies to --file"),
        (["--stdin", "--timezone", "Nowhere/Land"], "unknown time zone"),
    ],
)
def test_bad_options(argv: list[str], message: str) -> None:
    with pytest.raises((ColumnMapError, ValueError), match=message):
        command.build_plan(parse(*argv))


def test_handler_exits_2_on_bad_options_without_touching_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.handle(parse("--file", "nope.csv"), settings=None) == 2  # type: ignore[arg-type]
    assert command.handle(parse(), settings=None) == 2  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "no such file" in err and "nothing to read" in err


def test_sigterm_sets_the_stop_event() -> None:
    import os
    import signal

    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with command.stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
    assert signal.getsignal(signal.SIGTERM) == before
