"""The alerts part of `finsent demo`: replay the stored sample at event time, deliver webhooks.

`run_demo_alerts(engine, settings, receiver_url, secret, model_version=V)` activates `V` (the
version the demo just scored with) and walks event time from the first stored article to the last
one plus the rule window, one tick per `step` on the live grid, through the live engine, SQL state
store and outbox, with `alerts/demo_rules.yaml` (low volume floor, see that file); then sends the
outbox to the receiver and returns `(alerts_fired, webhooks_delivered)`. Without `receiver_url` it
starts a `LocalReceiver` that verifies every signature.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.dispatcher import Dispatcher, RetryPolicy, delivery_counts
from alerts.engine import AlertEngine
from alerts.local_receiver import LocalReceiver
from alerts.planner import tick_times
from alerts.receivers import Receiver
from alerts.rules import DEMO_RULES_PATH, load_rules
from alerts.state_store import SqlStateStore
from pipeline.config import Settings
from pipeline.db.activation import activate, active_version
from pipeline.db.models import Enrichment
from schemas import AlertEvent, utc_now

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
    model_version: str | None = None,
) -> DemoAlerts:
    """Evaluate the demo rules over the stored data and deliver; see the module docstring."""
    if model_version is not None:
        activate(engine, model_version, now=utc_now(), by="finsent demo", comment="the version the demo scored with")
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
    version = active_version(engine, settings.alerts_model_version).model_version
    if version is None:
        return DemoAlerts(0, 0)
    with engine.connect() as conn:
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
        SqlStateStore(engine, receivers, public_url=settings.public_url),
        receivers=[DEMO_RECEIVER],
        model_version=version,
        use_silences=False,
        publish=publish,
    )
    longest = max((r.window + r.keep_firing_for for r in rules.rules), default=timedelta(0))
    fired = resolved = ticks = 0
    for now in tick_times(first + step, last + longest + step, step):
        result = alert_engine.tick(now)
        fired += len(result.firing)
        resolved += len(result.resolved)
        ticks += 1
    delivered = _deliver(engine, receivers)
    return DemoAlerts(fired, delivered, resolved, ticks)


def _deliver(engine: Engine, receivers: dict[str, Receiver], max_age_s: float = 30.0) -> int:
    """Drain the outbox until nothing is pending (retries back off: 0.2 s doubling to 1 s)."""
    dispatcher = Dispatcher(engine, receivers, policy=RetryPolicy(base_s=0.2, cap_s=1.0, max_age_s=max_age_s))
    delivered = 0
    try:
        while True:
            delivered += dispatcher.drain().delivered
            if not delivery_counts(engine)["pending"]:
                return delivered
            dispatcher.wait_for_due()
    finally:
        dispatcher.close()
