"""`finsent demo` end to end, as `make demo` runs it: embedded broker, SQLite, model, alerts, webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import sample_counts as sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_the_whole_path_and_its_counts_reconcile(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env["FINSENT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ingested"] == sample.INGESTED
    assert summary["deduplicated"] == sample.DEDUPLICATED and summary["dlq"] == sample.DLQ
    assert summary["enriched"] == sample.PRODUCED
    assert summary["ingested"] == summary["enriched"] + summary["deduplicated"] + summary["dlq"]
    assert summary["alerts_fired"] >= 1
    assert summary["webhooks_delivered"] >= summary["alerts_fired"]
    assert summary["watchlist_notices"] >= 1  # the demo watchlist's notices, each received
    example = summary["entity_sentiment_example"]  # the showcase headline, as the model scored it
    assert example is not None and example["headline"].startswith("Nvidia rallies as AMD slumps")
    said = {e["text"]: (e["sentiment"], e["sentiment_source"]) for e in example["entities"]}
    assert said["Nvidia"] == ("positive", "entity") and said["AMD"] == ("negative", "entity"), said
    assert (tmp_path / "demo.db").is_file()
