"""The alerts part of `finsent demo`: replay the stored sample at event time, deliver webhooks.

`run_demo_alerts(engine, settings, receiver_url, secret)` walks event time from the first stored
article to the last one plus the rule window, one tick per `step` (like the live worker, only
faster), with `alerts/demo_rules.yaml` (low volume floor, see that file), then sends the outbox
to the receiver and returns `(alerts_fired, webhooks_delivered)`. Without `receiver_url` it starts
a `LocalReceiver` that verifies every signature.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.dispatcher import Dispatcher, RetryPolicy, delivery_counts
from alerts.engine import AlertEngine, PostgresStateStore
from alerts.local_receiver import LocalReceiver
from alerts.receivers import Receiver
from alerts.rules import DEMO_RULES_PATH, load_rules
from alerts.stats import latest_model_version
from pipeline.config import Settings
from pipeline.db.models import Enrichment
from schemas import AlertEvent

DEMO_RECEIVER = "demo"


class DemoAlerts(NamedTuple):
    alerts_fired: int
    webhooks_delivered: int
    alerts_resolved: int = 0
    ticks: int = 0


def run_demo_alerts(
    engine: Engine,
    settings: Settings,
    receiver_url: str | None = None,
    secret: str | None = None,
    *,
    rules_path: Path = DEMO_RULES_PATH,
    step: timedelta = timedelta(minutes=5),
    publish: Callable[[Sequence[AlertEvent]], None] | None = None,
) -> DemoAlerts:
    """Evaluate the demo rules over the stored data and deliver; see the module docstring."""
    local: LocalReceiver | None = None
    if receiver_url is None:
        secret = secret or "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")[:32]
        local = LocalReceiver(secret).start()
        receiver_url = local.url
    if secret is None:
        raise ValueError("[ALR050] give the receiver's secret with its URL")
    try:
        return _run(engine, settings, receiver_url, secret, rules_path, step, publish)
    finally:
        if local is not None:
            local.stop()


def _run(
    engine: Engine,
    settings: Settings,
    url: str,
    secret: str,
    rules_path: Path,
    step: timedelta,
    publish: Callable[[Sequence[AlertEvent]], None] | None,
) -> DemoAlerts:
    rules = load_rules(rules_path)
    receivers = {DEMO_RECEIVER: Receiver(name=DEMO_RECEIVER, url=url, secret=SecretStr(secret))}
    with engine.connect() as conn:
        version = settings.alerts_model_version or latest_model_version(conn)
        if version is None:
            return DemoAlerts(0, 0)
        first, last = conn.execute(
            select(func.min(Enrichment.published_at), func.max(Enrichment.published_at)).where(
                Enrichment.model_version == version
            )
        ).one()
    if first is None or last is None:
        return DemoAlerts(0, 0)
    alert_engine = AlertEngine(
        engine,
        rules,
        PostgresStateStore(engine, receivers, public_url=settings.public_url),
        receivers=[DEMO_RECEIVER],
        model_version=version,
        use_silences=False,
        publish=publish,
    )
    longest = max((r.window for r in rules.rules), default=timedelta(0))
    now = first.replace(second=0, microsecond=0) + step
    end = last + longest + step
    fired = resolved = ticks = 0
    while now <= end:
        result = alert_engine.tick(now)
        fired += len(result.firing)
        resolved += len(result.resolved)
        ticks += 1
        now += step
    dispatcher = Dispatcher(engine, receivers, policy=RetryPolicy(base_s=0.2, cap_s=1.0, max_age_s=30.0))
    try:
        delivered = dispatcher.drain().delivered
        for _ in range(20):  # retries after a hiccup: short backoff, then drain again
            pending = _pending(engine)
            if not pending:
                break
            time.sleep(0.3)
            delivered += dispatcher.drain().delivered
    finally:
        dispatcher.close()
    return DemoAlerts(fired, delivered, resolved, ticks)


def _pending(engine: Engine) -> int:
    return delivery_counts(engine)["pending"]
