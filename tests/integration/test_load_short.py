"""A short run of `bench/load.py` in the suite: twice a fixed rate for a few seconds through the real
`finsent serve` -> broker -> `finsent worker model` -> Postgres processes, then a gentle rate.

The figures (capacity, 5 minutes at 2x, latency percentiles) come from the bench itself
(RELIABILITY.md); here only what must hold at any speed: nothing acknowledged is lost, the backlog
drains, each process's memory is measured.
"""

from __future__ import annotations

import pytest

from bench.load import run_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_overload_drains_and_loses_nothing(pg_url: str) -> None:
    capacity, overload, latency = run_load(
        pg_url, capacity=15.0, capacity_s=0, overload_s=8, latency_s=6, drain_timeout_s=300
    )
    assert capacity == {"phase": "capacity", "given_per_s": 15.0}
    assert overload["acknowledged"] >= 200 and overload["lost"] == 0
    assert overload["stored"] == overload["acknowledged"]
    assert set(overload["peak_rss_mb"]) == {"serve", "worker", "broker"}
    assert all(mb > 0 for mb in overload["peak_rss_mb"].values())
    assert latency["items"] >= 40 and latency["lost"] == 0
    assert 0 < latency["p50_s"] <= latency["p99_s"]
