"""`CheckedSends`: a batch is acknowledged as a whole or fails with the records that did not make it."""

from __future__ import annotations

import pytest

from pipeline.kafka.produce import CheckedSends, ProduceError
from tests.fixtures.fake_producer import FakeProducer


def test_wait_returns_metadata_of_every_record_in_order() -> None:
    producer = FakeProducer()
    sends = CheckedSends(producer)  # type: ignore[arg-type]
    for i in range(3):
        sends.send("news.enriched", value=b"v%d" % i, key=b"k")
    assert len(sends) == 3
    assert [m.offset for m in sends.wait()] == [0, 1, 2]
    assert producer.flushed == 1
    assert len(sends) == 0 and sends.wait() == []  # a second wait has nothing left to check


def test_a_failed_future_fails_the_batch_and_names_the_topic() -> None:
    sends = CheckedSends(FakeProducer(fail_topics={"news.dlq"}))  # type: ignore[arg-type]
    sends.send("news.enriched", value=b"ok")
    sends.send("news.dlq", value=b"lost")
    with pytest.raises(ProduceError) as info:
        sends.wait()
    assert info.value.total == 2
    assert info.value.failures == [("news.dlq", "KafkaError: broker said no")]


def test_a_send_refused_up_front_is_reported_by_wait_not_lost() -> None:
    sends = CheckedSends(FakeProducer(refuse_topics={"too.big"}))  # type: ignore[arg-type]
    sends.send("too.big", value=b"x" * 10)
    sends.send("fine", value=b"y")
    with pytest.raises(ProduceError, match="1 of 2 records not acknowledged.*too.big"):
        sends.wait()
