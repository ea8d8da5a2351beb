"""Send a backtest's events to a receiver through the live outbox and dispatcher, each payload
marked `"backtest": true` (its `alert_events` rows have `backtest = true`, so they are never
published to `alerts.events`).

Event ids are re-derived per delivery run, so delivering the same backtest twice sends it twice
rather than colliding with the first delivery.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import Engine

from alerts.backtest import BacktestResult
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.outbox import enqueue_event, store_event
from alerts.receivers import Receiver
from schemas import utc_now

BACKTEST_NAMESPACE = uuid.UUID("0d7e3b7e-8a55-4a3c-9d0f-6a1f1f0b5c21")


def deliver_backtest(
    engine: Engine,
    result: BacktestResult,
    receiver: Receiver,
    *,
    public_url: str,
    delivery_run: str,
    policy: RetryPolicy | None = None,
) -> dict[str, int]:
    """Queue every event of `result` for `receiver`, then drain the outbox to it."""
    now = utc_now()
    with engine.begin() as conn:
        for emitted in result.events:
            event_id = str(uuid.uuid5(BACKTEST_NAMESPACE, f"{delivery_run}|{emitted.event_id}"))
            copy = replace(emitted, event_id=event_id, receivers=(receiver.name,))
            store_event(conn, copy, backtest=True)
            enqueue_event(conn, copy, {receiver.name: receiver}, public_url=public_url, now=now,
                          extra={"backtest": True})
    dispatcher = Dispatcher(
        engine, {receiver.name: receiver}, policy=policy or RetryPolicy(base_s=0.2, cap_s=2.0, max_age_s=60.0)
    )
    try:
        stats = dispatcher.drain()
    finally:
        dispatcher.close()
    return {"queued": len(result.events), "delivered": stats.delivered, "failed": stats.failed}
