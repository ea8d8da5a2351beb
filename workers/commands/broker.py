"""`finsent broker`: run the embedded Kafka-protocol broker (Tansu) until SIGINT/SIGTERM.

Prints `bootstrap=127.0.0.1:PORT` on stdout once the broker answers a metadata request; point
other processes at it with `FINSENT_KAFKA_BOOTSTRAP=127.0.0.1:PORT`. Storage is in memory: topics
are gone when it stops.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from pipeline.config import Settings
from pipeline.kafka.broker import BrokerError, EmbeddedBroker

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "broker", help="run the embedded Kafka broker until interrupted", description=__doc__
    )
    parser.add_argument("--port", type=int, default=None, help="loopback port (default: a free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on and advertise (default: 127.0.0.1)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    broker = EmbeddedBroker(port=args.port, host=args.host, data_dir=settings.data_dir / "broker")
    try:
        try:
            broker.start()
        except BrokerError as exc:
            print(f"finsent broker: {exc}", file=sys.stderr, flush=True)
            return 1
        print(f"bootstrap={broker.bootstrap}", flush=True)
        while not stop.wait(timeout=1.0):
            if not broker.running():
                print(
                    f"finsent broker: the broker exited unexpectedly; log {broker.log_path}:",
                    broker.log_tail(),
                    sep="\n",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        log.info("stopping embedded broker", extra={"signal": signal.Signals(received[0]).name})
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """`python -m workers.commands.broker [--port N]`: this command without the rest of the CLI."""
    from pipeline.logs import configure_logging

    parser = argparse.ArgumentParser(prog="finsent")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["broker", *(sys.argv[1:] if argv is None else argv)])
    settings = Settings()
    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    return int(args.handler(args, settings))


if __name__ == "__main__":
    sys.exit(main())
