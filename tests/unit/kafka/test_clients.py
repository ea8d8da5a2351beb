"""Client settings that need no broker."""

from __future__ import annotations

import pytest

from pipeline.kafka.clients import (
    CONSUMER_DEFAULTS,
    MAX_MESSAGE_BYTES,
    PRODUCER_DEFAULTS,
    ensure_topics,
    faust_settings,
)


def test_defaults_follow_the_measured_settings() -> None:
    assert PRODUCER_DEFAULTS["acks"] == "all"
    assert PRODUCER_DEFAULTS["max_request_size"] >= 6 * 1024 * 1024  # a 5 MB payload fits in a dead letter
    assert CONSUMER_DEFAULTS["enable_auto_commit"] is False
    assert CONSUMER_DEFAULTS["session_timeout_ms"] == 6_000
    assert CONSUMER_DEFAULTS["max_partition_fetch_bytes"] >= MAX_MESSAGE_BYTES


def test_faust_settings_build_an_app() -> None:
    import faust

    settings = faust_settings("127.0.0.1:9092,127.0.0.1:9093", partitions=2, web_port=6066)
    app = faust.App("finsent-test", **settings)
    assert [str(url) for url in app.conf.broker] == ["kafka://127.0.0.1:9092", "kafka://127.0.0.1:9093"]
    assert app.conf.processing_guarantee.value == "at_least_once"
    assert app.conf.broker_session_timeout == 6.0
    assert app.conf.topic_partitions == 2


@pytest.mark.parametrize(
    ("names", "partitions"), [(["ok"], 0), (["bad name!"], 1), ([""], 1), (["x" * 250], 1)]
)
def test_ensure_topics_refuses_what_kafka_would(names: list[str], partitions: int) -> None:
    with pytest.raises(ValueError):  # before any connection: the bootstrap is never dialled
        ensure_topics("127.0.0.1:1", names, partitions=partitions)
