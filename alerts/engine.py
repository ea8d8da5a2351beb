"""The live evaluation tick: SQL statistics -> `plan_tick` -> states, events and outbox in one
transaction -> events to Kafka.

`AlertEngine.tick(now)` evaluates every rule at event time `now` on the enrichments of the active
model version (`pipeline.db.activation.active_version`: `FINSENT_ALERTS_MODEL_VERSION`, else the
version activated with `finsent model activate`; with neither, nothing is evaluated). A tick is
deterministic given (rules, database contents, model version, now, prior states), so a backtest
(`alerts.backtest`) over the same history gives the same events, ids included.

`AlertEngine.early_tick(now, step, settled)` is the early evaluation of a tick that is due but
whose allowed lateness has not passed (`alerts.early`): it stores and publishes the firings that
already hold on the articles stored so far, and moves nothing else. It reads through its own
`SqlStats`, so a baseline cached early never stands in for the final evaluation's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from alerts.early import plan_early
from alerts.evaluate import Decision
from alerts.planner import EmittedEvent, plan_tick
from alerts.publication import Publisher, publish_pending
from alerts.rules import AnyRule, RulesConfig
from alerts.silences import Silence, active_silences
from alerts.state_store import StateStore
from alerts.stats import RuleStats, StatsSource, stats_for_rules
from alerts.stats_sql import SqlStats
from pipeline.db.activation import active_version
from schemas import utc_now

log = logging.getLogger(__name__)

RulesSource = Callable[[], RulesConfig]


@dataclass(frozen=True, slots=True)
class TickResult:
    now: datetime
    model_version: str | None
    decisions: tuple[Decision, ...] = ()
    events: tuple[EmittedEvent, ...] = ()
    silenced: tuple[str, ...] = ()
    """Fingerprints whose notification a silence muted in this tick."""

    @property
    def firing(self) -> list[EmittedEvent]:
        return [e for e in self.events if e.event.status == "firing"]

    @property
    def resolved(self) -> list[EmittedEvent]:
        return [e for e in self.events if e.event.status == "resolved"]


class AlertEngine:
    """Evaluates every rule at `now` and moves alert states; see the module docstring."""

    def __init__(
        self,
        db: Engine,
        rules: RulesSource | RulesConfig,
        store: StateStore,
        *,
        receivers: Sequence[str] = (),
        model_version: str | None = None,
        use_silences: bool = True,
        publish: Publisher | None = None,
        stats: StatsSource | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self._rules: RulesSource = (lambda: rules) if isinstance(rules, RulesConfig) else rules
        self.store = store
        self.receivers = tuple(receivers)
        self.model_version = model_version
        self.use_silences = use_silences
        self.publish = publish
        self.stats: StatsSource = stats or SqlStats(db)
        self.early_stats: StatsSource = stats or SqlStats(db)
        self.clock = clock
        self._version_seen: str | None = None

    def current_version(self) -> str | None:
        """The model version to evaluate (logged when it changes)."""
        found = active_version(self.db, self.model_version)
        if found.model_version != self._version_seen:
            if found.model_version is None:
                log.warning(
                    "no model version is active: set FINSENT_ALERTS_MODEL_VERSION or run "
                    "`finsent model activate VERSION`; nothing is evaluated"
                )
            else:
                log.info("alerts evaluate model version %s (%s)", found.model_version, found.source)
            self._version_seen = found.model_version
        return found.model_version

    def tick(self, now: datetime, *, record: bool = False) -> TickResult:
        """Evaluate at `now`; `record=True` stores `now` as the last evaluated tick with the
        states (the worker's progress, for catch-up)."""
        now = _event_time(now)
        tick = now if record else None
        version = self.current_version()
        if version is None:
            self.store.save((), (), tick=tick)
            return TickResult(now=now, model_version=None)
        rules: dict[str, AnyRule] = {r.name: r for r in self._rules().rules}
        stats = stats_for_rules(self.stats, rules, version, now)
        plan = plan_tick(rules, stats, self.store.load(), self._silences(now), now, version, self.receivers)
        self.store.save(plan.states, plan.events, tick=tick)
        self._publish()
        return TickResult(now, version, plan.decisions, plan.events, plan.silenced)

    def early_tick(self, now: datetime, step: timedelta, settled: datetime | None) -> TickResult:
        """The early evaluation of tick `now` on the grid `step`, `settled` being the last tick
        evaluated finally (see the module docstring); stores only what fires."""
        now = _event_time(now)
        version = self.current_version()
        if version is None:
            return TickResult(now=now, model_version=None)
        rules: dict[str, AnyRule] = {r.name: r for r in self._rules().rules}

        def stats_at(at: datetime) -> dict[str, RuleStats]:
            return stats_for_rules(self.early_stats, rules, version, at)

        plan = plan_early(
            rules, stats_at, self.store.load(), self._silences(now), now, step, settled, version, self.receivers
        )
        if plan.events:
            self.store.save(plan.states, plan.events)
            self._publish()
        return TickResult(now, version, plan.decisions, plan.events)

    def _silences(self, now: datetime) -> list[Silence]:
        if not self.use_silences:
            return []
        with self.db.connect() as conn:
            return active_silences(conn, now)

    def _publish(self) -> None:
        if self.publish is not None:
            publish_pending(self.db, self.publish, self.clock())


def _event_time(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("[ALR040] evaluate at an aware datetime (event time, UTC)")
    return now.astimezone(UTC)
