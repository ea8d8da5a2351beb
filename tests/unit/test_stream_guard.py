"""The stream worker's last-resort shutdown guard ends a process that outlives its stop signal."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUCK = """
import threading, time
from workers.commands.stream import arm_shutdown_guard
stop = threading.Event()
arm_shutdown_guard(stop, 0.5)
stop.set()
time.sleep(60)  # a shutdown that hangs
"""


def test_a_stuck_shutdown_is_ended_with_exit_70() -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", STUCK], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 70, result.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "exiting now" in result.stderr
