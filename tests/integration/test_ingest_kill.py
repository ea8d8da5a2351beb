"""kill -9 of `finsent serve` in the middle of a stream of pushes (real process, broker, Postgres).

A sender posts batches back to back and retries a batch until it gets an answer (as any client
of a 202-after-acknowledgement API should). The server is killed with SIGKILL while requests are
in flight and started again. Then: every item any 202 acknowledged is in news.raw, every item of
a retried batch ends accepted or "duplicate of itself" (it was already in news.raw), no other
item is called a duplicate, and no token value appears in the server's logs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.api_tokens import create_token
from schemas import RawNews, decode
from tests.fixtures.ingest import read_topic
from tests.fixtures.kafka import TEST_PARTITIONS, KafkaTopics
from tests.fixtures.waiting import WAIT_S, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCHES = 30
PER_BATCH = 25
KILL_AFTER = 8
"""Acknowledged batches before the kill."""
RETRY_S = 0.2
"""The sender's pause before retrying a batch that got no answer (a client's backoff, not a wait)."""


class ServeProcess:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir, self.generation = env, workdir, 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        self.generation += 1
        out = self.workdir / f"serve-{self.generation}.out"
        err = self.workdir / f"serve-{self.generation}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "serve", "--port", "0"],
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                cwd=Path(__file__).resolve().parents[2],
            )
        line = wait_until(lambda: out.read_text().strip(), f"`finsent serve` #{self.generation} to listen")
        self.url = json.loads(line.splitlines()[0])["serving"]
        return self.url

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(WAIT_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(WAIT_S)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("serve-*.err")))


def batch(n: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Company {n * PER_BATCH + i} reports results for quarter {n}-{i}",
            "url": f"https://example.com/kill/{n}/{i}",
            "published_at": "2026-11-27T14:00:00Z",
        }
        for i in range(PER_BATCH)
    ]


def test_kill_9_mid_stream_loses_nothing_acknowledged(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_url: str, tmp_path: Path
) -> None:
    token, entry = create_token("sender", ["ingest"])
    env = {
        **os.environ,
        "FINSENT_API_TOKENS": entry.config_line(),
        "FINSENT_DATABASE_URL": pg_url,
        "FINSENT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FINSENT_KAFKA_PARTITIONS": str(TEST_PARTITIONS),
        "FINSENT_TOPIC_RAW": kafka_topics.raw,
        "FINSENT_TOPIC_DLQ": kafka_topics.dlq,
        "FINSENT_DATA_DIR": str(tmp_path),
        "FINSENT_LOG_LEVEL": "DEBUG",
    }
    server = ServeProcess(env, tmp_path)
    url = [server.start()]
    answers: dict[int, list[dict[str, Any]]] = {}
    attempts: dict[int, int] = {}
    failed: list[BaseException] = []

    def send() -> None:
        try:
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=WAIT_S) as client:
                for n in range(BATCHES):
                    deadline = time.monotonic() + 2 * WAIT_S
                    while n not in answers:
                        if time.monotonic() > deadline:
                            raise AssertionError(f"batch {n}: no answer after {attempts[n]} tries")
                        attempts[n] = attempts.get(n, 0) + 1
                        try:
                            response = client.post(f"{url[0]}/v1/news", json=batch(n))
                        except httpx.TransportError:
                            time.sleep(RETRY_S)  # the sender's backoff: the server went away
                            continue
                        if response.status_code == 202:
                            answers[n] = response.json()["items"]
                        elif response.status_code == 503:
                            time.sleep(RETRY_S)
                        else:
                            raise AssertionError(f"batch {n}: {response.status_code} {response.text[:200]}")
        except BaseException as exc:  # reported by the test thread below
            failed.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        wait_until(lambda: len(answers) >= KILL_AFTER or failed, f"{KILL_AFTER} batches acknowledged")
        server.kill()  # SIGKILL while the sender is mid-stream
        killed_at = len(answers)
        url[0] = server.start()
        sender.join(WAIT_S * 3)
    finally:
        server.stop()
    assert not failed, failed
    assert not sender.is_alive() and len(answers) == BATCHES

    retried = {n for n, tries in attempts.items() if tries > 1}
    statuses: dict[str, int] = {}
    for n, items in answers.items():
        for item in items:
            statuses[item["status"]] = statuses.get(item["status"], 0) + 1
            if n in retried:  # the killed attempt may have produced it: then it is a duplicate of itself
                assert item["status"] == "accepted" or item["duplicate_of"] == item["id"], item
            else:
                assert item["status"] == "accepted", item
    expected = {item["id"] for items in answers.values() for item in items}
    assert len(expected) == BATCHES * PER_BATCH

    records = read_topic(kafka_bootstrap, kafka_topics.raw, len(expected))
    in_topic = [decode(r.value, RawNews) for r in records]
    ids = {n.id for n in in_topic if isinstance(n, RawNews)}
    assert ids == expected  # nothing acknowledged is lost, nothing unknown appears
    extra_copies = len(records) - len(ids)
    print(
        f"killed after {killed_at} batches; retried batches={sorted(retried)}; statuses={statuses}; "
        f"records={len(records)} distinct={len(ids)} extra copies={extra_copies}"
    )
    assert extra_copies <= PER_BATCH * len(retried)  # only a retried batch may be produced twice
    assert token not in server.logs() and token.removeprefix("fst_") not in server.logs()


def test_kill_9_of_ingest_mid_file_then_rerun_sends_the_rest(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_url: str, tmp_path: Path
) -> None:
    """`finsent ingest --file` killed with SIGKILL part-way; the rerun of the same file completes it:
    every row ends in news.raw, and only the batch in flight at the kill may be produced twice."""
    total, batch_size = 800, 20
    archive = tmp_path / "archive.jsonl"
    archive.write_text(
        "".join(
            json.dumps(
                {
                    "title": f"Issuer {i} files annual report number {i}",
                    "url": f"https://example.com/r/{i}",
                    "published_at": f"2026-03-02T09:{i // 60 % 60:02d}:{i % 60:02d}Z",  # an archive row has its time
                }
            )
            + "\n"
            for i in range(total)
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "FINSENT_DATABASE_URL": pg_url,
        "FINSENT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FINSENT_KAFKA_PARTITIONS": str(TEST_PARTITIONS),
        "FINSENT_TOPIC_RAW": kafka_topics.raw,
        "FINSENT_TOPIC_DLQ": kafka_topics.dlq,
        "FINSENT_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "workers.cli", "ingest", "--file", str(archive), "--batch", str(batch_size)]
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: len(read_topic(kafka_bootstrap, kafka_topics.raw, 0)) >= total // 4,
            "a quarter of the file in news.raw",
        )
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(WAIT_S)
    before = len(read_topic(kafka_bootstrap, kafka_topics.raw, 0))
    assert before < total, "the kill came after the end: nothing was tested"
    rerun = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=WAIT_S * 3)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["ingested"] == total and summary["dlq"] == 0
    assert summary["produced"] + summary["deduplicated"] == total
    records = read_topic(kafka_bootstrap, kafka_topics.raw, total)
    ids = {r.key for r in records}
    assert len(ids) == total
    extra_copies = len(records) - total
    print(
        f"killed with {before} of {total} in news.raw; rerun produced {summary['produced']}, "
        f"deduplicated {summary['deduplicated']}; records={len(records)} extra copies={extra_copies}"
    )
    assert extra_copies <= batch_size
