"""The embedded broker and `finsent broker`: start, answer, stop cleanly, leave nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from kafka import KafkaAdminClient

from pipeline.config import Settings
from pipeline.kafka.broker import BrokerError, EmbeddedBroker, broker_for, free_port, tansu_binary

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def tansu_processes() -> set[int]:
    binary = str(tansu_binary())
    found = set()
    for proc in psutil.process_iter(["exe", "cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and (
                proc.info["exe"] == binary or (proc.info["cmdline"] or [""])[0] == binary
            ):
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


def answers_metadata(bootstrap: str) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=5_000)
    try:
        return isinstance(admin.list_topics(), list)
    finally:
        admin.close()


def test_embedded_broker_starts_answers_and_stops_without_leaks(tmp_path: Path) -> None:
    before = tansu_processes()
    with EmbeddedBroker(data_dir=tmp_path) as broker:
        pid = broker.pid
        assert pid is not None and pid in tansu_processes()
        assert os.getpgid(pid) == pid  # its own process group
        assert answers_metadata(broker.bootstrap)
        port = broker.port
    assert not psutil.pid_exists(pid), "broker process left behind (or unreaped zombie)"
    assert tansu_processes() == before
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
    assert "listening on" in (tmp_path / f"tansu-{port}.log").read_text()


def test_taken_port_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port 127.0.0.1:{port} is already taken"):
            EmbeddedBroker(port=port).start()


def test_tansu_panic_on_a_bound_port_is_detected_despite_exit_code_0() -> None:
    """A bound but not listening socket passes the pre-check; Tansu then panics and exits 0."""
    before = tansu_processes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(BrokerError, match="exited with code 0 before answering") as info:
            EmbeddedBroker(port=port, start_timeout_s=10).start()
    assert "Address in use" in str(info.value)  # the log tail is in the message
    assert tansu_processes() == before


def test_broker_for_prefers_configured_bootstrap(tmp_path: Path) -> None:
    before = tansu_processes()
    with broker_for(Settings(kafka_bootstrap="kafka.example:9092", data_dir=tmp_path)) as bootstrap:
        assert bootstrap == "kafka.example:9092"
        assert tansu_processes() == before
    with broker_for(Settings(kafka_bootstrap=None, data_dir=tmp_path)) as bootstrap:
        assert answers_metadata(bootstrap)
        assert len(tansu_processes() - before) == 1
    assert tansu_processes() == before


def _start_cli(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FINSENT_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("FINSENT_KAFKA_BOOTSTRAP", None)
    return subprocess.Popen(
        [sys.executable, "-m", "workers.commands.broker", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_broker_command_prints_bootstrap_and_stops_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    proc = _start_cli(tmp_path, "--port", str(port))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"bootstrap=127.0.0.1:{port}", proc.stderr.read() if proc.stderr else ""
        bootstrap = line.split("=", 1)[1]
        assert answers_metadata(bootstrap)
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert children, "the broker runs as a child process"
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 6
        for pid in children:
            assert not psutil.pid_exists(pid), f"tansu pid {pid} outlived `finsent broker`"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_broker_command_on_a_taken_port_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = _start_cli(tmp_path, "--port", str(port))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert out == ""
    assert f"port 127.0.0.1:{port} is already taken" in err


def test_unreachable_broker_fails_under_ci_and_skips_elsewhere(tmp_path: Path) -> None:
    test_file = tmp_path / "test_needs_kafka.py"
    test_file.write_text(
        textwrap.dedent(
            """
            def test_needs_kafka(kafka_bootstrap):
                pass
            """
        )
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: connection refused
        runs = {}
        for ci in ("true", ""):  # both at once: each waits out the probe's connect timeout
            env = {**os.environ, "CI": ci, "TEST_KAFKA_BOOTSTRAP": dead, "PYTHONPATH": str(REPO)}
            runs[ci] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "tests.fixtures.kafka",
                    "--noconftest",
                    "-p",
                    "no:cacheprovider",
                    "--rootdir",
                    str(tmp_path),
                    str(test_file),
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        outcomes = {ci: (proc.communicate(timeout=120)[0], proc.returncode) for ci, proc in runs.items()}
        outcomes = {ci: (code, out) for ci, (out, code) in outcomes.items()}
    assert outcomes["true"][0] == 1 and "1 error" in outcomes["true"][1], outcomes["true"][1]
    assert "CI=true: services are required" in outcomes["true"][1]
    assert outcomes[""][0] == 0 and "1 skipped" in outcomes[""][1], outcomes[""][1]


def test_a_picked_port_lost_to_another_process_is_picked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.kafka.broker as broker_module

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: Tansu's bind fails, it panics, exits 0
        taken = sock.getsockname()[1]
        picks = iter([taken, free_port()])
        monkeypatch.setattr(broker_module, "free_port", lambda host: next(picks))
        with EmbeddedBroker() as broker:
            assert broker.port != taken
            assert answers_metadata(broker.bootstrap)
