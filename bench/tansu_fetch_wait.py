"""How long a record waits to be fetched on the embedded broker, by the consumer's fetch wait.

    .venv/bin/python bench/tansu_fetch_wait.py [--rate 100] [--seconds 6] [--waits 1500,500,100]

Produces `--rate` records per second (kafka-python, the project's producer settings) and
consumes them with aiokafka (faust's client) in a fresh group per `fetch_max_wait_ms`, printing
p50/p95 of receipt time minus the record timestamp. Tansu holds a fetch for its whole wait even
when records arrive meanwhile, so the wait shows up as latency (why `workers.stream.app` fetches
with 100 ms instead of faust's hard-coded 1,500 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiokafka  # noqa: E402

from bench.common import percentile  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker  # noqa: E402
from pipeline.kafka.clients import ensure_topics, make_producer  # noqa: E402


def produce(bootstrap: str, topic: str, rate: int, seconds: float) -> None:
    producer = make_producer(bootstrap, client_id="bench-fetch-wait")
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        if (delay := started + i / rate - time.perf_counter()) > 0:
            time.sleep(delay)
        producer.send(topic, key=str(i).encode(), value=b"x")
    producer.flush()
    producer.close()


async def measure(bootstrap: str, topic: str, wait_ms: int, rate: int, seconds: float) -> list[float]:
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-wait-{wait_ms}", auto_offset_reset="latest",
        fetch_max_wait_ms=wait_ms, session_timeout_ms=6000, heartbeat_interval_ms=2000,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        await asyncio.sleep(2 * wait_ms / 1000 + 1)  # the first fetches position the consumer at the end
        feeder = threading.Thread(target=produce, args=(bootstrap, topic, rate, seconds))
        feeder.start()
        latencies: list[float] = []
        end = time.time() + seconds + 2 * wait_ms / 1000 + 1
        while time.time() < end:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time()
            latencies.extend(now - m.timestamp / 1000 for records in batches.values() for m in records)
        feeder.join()
        return latencies
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--waits", default="1500,500,100")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ["bench.fetch-wait"], partitions=4)
        print(f"{'fetch_max_wait_ms':>18}{'records':>9}{'p50 ms':>9}{'p95 ms':>9}")
        for wait_ms in (int(w) for w in args.waits.split(",")):
            lat = asyncio.run(measure(broker.bootstrap, "bench.fetch-wait", wait_ms, args.rate, args.seconds))
            print(f"{wait_ms:>18}{len(lat):>9}{percentile(lat, 0.5) * 1000:>9.0f}{percentile(lat, 0.95) * 1000:>9.0f}")


if __name__ == "__main__":
    main()
