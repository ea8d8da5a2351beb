"""Backtest: which alerts would have fired over a stretch of history, at the live cadence.

Event time walks from `start` to `end` in `step`s (the live `alerts_interval_s`, 30 s by
default); each tick runs the alerts engine's pure core (`alerts.engine.plan_tick`) with state in
memory (`InMemoryStateStore`) and no silences. The live tick asks SQL for window statistics on
every tick; a month at 30 s is 86k ticks, so here the enrichments of the range are loaded once and
`MemoryStats` answers the same `RuleStats` from per-group prefix sums (two bisects per period).
`MemoryStats.query(spec, now)` returns what `alerts.stats.query_stats` returns (a test checks
both on the same data); per tick only the groups that can matter are handed to the engine: those
at or above a rule's volume floor, and those pending or firing (below the floor `evaluate`
answers "inactive" whatever the rest of the figures).

The output is a pure function of (rules, stored enrichments, model version, range, step): no wall
clock anywhere, sorted keys and a stable order, so two runs write byte-identical files.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from alerts.engine import EmittedEvent, InMemoryStateStore, plan_tick
from alerts.lifecycle import Status
from alerts.rules import AnyRule, RulesConfig
from alerts.stats import Aggregate, GroupKey, RuleStats, StatsSpec
from pipeline.db.models import Enrichment, Entity

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BACKTEST_NAMESPACE = uuid.UUID("0d7e3b7e-8a55-4a3c-9d0f-6a1f1f0b5c21")


def _us(when: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (when - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ScoredRow:
    """One enrichment as the rules see it."""

    published_at: datetime
    topic: str
    negative: bool
    score: float
    tickers: tuple[str, ...] = ()
    at: int = 0
    """`published_at` in microseconds since the epoch (what the indexes sort on)."""


def load_rows(
    engine: Engine, model_version: str, start: datetime, end: datetime, topics: Sequence[str] = ()
) -> list[ScoredRow]:
    """Enrichments of `model_version` with `start <= published_at < end` (and one of `topics`,
    when given), in (published_at, id) order, each with its distinct entity tickers."""
    e, n = Enrichment.__table__.c, Entity.__table__.c
    where = [e.model_version == model_version, e.published_at >= start, e.published_at < end]
    if topics:
        where.append(e.topic.in_(list(topics)))
    query = (
        select(e.id, e.published_at, e.topic, e.sentiment, e.sentiment_score)
        .where(*where)
        .order_by(e.published_at, e.id)
    )
    tickers_q = (
        select(n.enrichment_id, n.ticker)
        .join(Enrichment.__table__, e.id == n.enrichment_id)
        .where(*where)
        .where(n.ticker.is_not(None))
        .distinct()
    )
    with engine.connect() as conn:
        tickers: dict[int, set[str]] = {}
        for enrichment_id, ticker in conn.execute(tickers_q):
            tickers.setdefault(int(enrichment_id), set()).add(str(ticker))
        return [
            ScoredRow(r.published_at, str(r.topic), r.sentiment == "negative", float(r.sentiment_score),
                      tuple(sorted(tickers.get(int(r.id), ()))), _us(r.published_at))
            for r in conn.execute(query)
        ]


@dataclass
class _Series:
    """Prefix sums of one group, over its rows in time order."""

    times: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=lambda: [0])
    total: list[float] = field(default_factory=lambda: [0.0])
    squares: list[float] = field(default_factory=lambda: [0.0])

    def append(self, row: ScoredRow) -> None:
        self.times.append(row.at)
        self.negative.append(self.negative[-1] + row.negative)
        self.total.append(self.total[-1] + row.score)
        self.squares.append(self.squares[-1] + row.score * row.score)

    def aggregate(self, ranges: Iterable[tuple[int, int]]) -> Aggregate:
        """Sums over the union of `[start, end)` microsecond ranges (disjoint)."""
        c = k = 0
        s = q = 0.0
        for start, end in ranges:
            i, j = bisect.bisect_left(self.times, start), bisect.bisect_left(self.times, end)
            c += j - i
            k += self.negative[j] - self.negative[i]
            s += self.total[j] - self.total[i]
            q += self.squares[j] - self.squares[i]
        return Aggregate(c, k, s, q)


def _periods(spec: StatsSpec, now: datetime) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(window, baseline) of `spec` at `now` as microsecond ranges."""
    window = [(_us(now - spec.window), _us(now))]
    return window, [(_us(a), _us(b)) for a, b in spec.baseline_ranges(now)]


class _Sliding:
    """Row counts per group over a window `[i, j)` of a timeline that only moves forward, and
    the set of groups at or above `floor`."""

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.i = self.j = 0
        self.counts: Counter[GroupKey] = Counter()
        self.busy: set[GroupKey] = set()

    def advance(self, keys: Sequence[GroupKey], i: int, j: int) -> None:
        """Move to `[i, j)` with `i >= self.i` and `j >= self.j` (busy iff count >= floor holds
        at every step, so the order of the two loops does not matter)."""
        for k in range(max(self.j, i), j):  # in the new window, not in the old one
            key = keys[k]
            self.counts[key] += 1
            if self.counts[key] == self.floor:
                self.busy.add(key)
        for k in range(self.i, min(self.j, i)):  # in the old window, not in the new one
            key = keys[k]
            if self.counts[key] == self.floor:
                self.busy.discard(key)
            self.counts[key] -= 1
        self.i, self.j = i, j


class MemoryStats:
    """`RuleStats` from rows held in memory, the same as `alerts.stats.query_stats` from SQL."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self._rows = rows
        self._index: dict[StatsSpec, dict[GroupKey, _Series]] = {}
        self._timeline: dict[StatsSpec, tuple[list[int], list[GroupKey]]] = {}
        self._sliders: dict[tuple[StatsSpec, int], _Sliding] = {}
        self._specs: dict[str, tuple[AnyRule, StatsSpec]] = {}

    def _groups(self, spec: StatsSpec) -> dict[GroupKey, _Series]:
        if spec not in self._index:
            groups: dict[GroupKey, _Series] = {}
            times: list[int] = []
            keys: list[GroupKey] = []
            for row in self._rows:
                if spec.topics != ("*",) and row.topic not in spec.topics:
                    continue
                if row.topic in spec.exclude_topics:
                    continue
                if "ticker" in spec.group_by:
                    row_keys = [(("ticker", t), ("topic", row.topic)) for t in row.tickers]
                else:
                    row_keys = [(("topic", row.topic),)]
                for key in row_keys:
                    groups.setdefault(key, _Series()).append(row)
                    times.append(row.at)
                    keys.append(key)
            self._index[spec] = dict(sorted(groups.items()))
            self._timeline[spec] = (times, keys)
        return self._index[spec]

    def _busy(self, spec: StatsSpec, window: tuple[int, int], floor: int) -> set[GroupKey]:
        """Groups with at least `floor` (>= 1) rows in the `window` range. Ticks move forward, so
        a sliding count per (spec, floor) makes this O(rows entering and leaving) per tick."""
        self._groups(spec)
        times, keys = self._timeline[spec]
        slider = self._sliders.get((spec, floor))
        i_new, j_new = bisect.bisect_left(times, window[0]), bisect.bisect_left(times, window[1])
        if slider is None or i_new < slider.i or j_new < slider.j:
            slider = self._sliders[(spec, floor)] = _Sliding(floor)
            slider.i = slider.j = i_new
        slider.advance(keys, i_new, j_new)
        return slider.busy

    def _spec(self, rule: AnyRule) -> StatsSpec:
        cached = self._specs.get(rule.name)
        if cached is None or cached[0] is not rule:
            cached = self._specs[rule.name] = (rule, StatsSpec.of(rule))
        return cached[1]

    def query(self, spec: StatsSpec, now: datetime) -> RuleStats:
        """Window aggregates of the groups with an article in the window, baseline aggregates of
        the groups with one in the baseline (as the SQL does)."""
        window: dict[GroupKey, Aggregate] = {}
        baseline: dict[GroupKey, Aggregate] = {}
        w_range, b_ranges = _periods(spec, now)
        for key, series in self._groups(spec).items():
            w = series.aggregate(w_range)
            b = series.aggregate(b_ranges)
            if w.count:
                window[key] = w
            if b.count:
                baseline[key] = b
        return RuleStats(spec, now, window, baseline)

    def for_rules(
        self, rules: Mapping[str, AnyRule], now: datetime, live: set[tuple[str, GroupKey]]
    ) -> dict[str, RuleStats]:
        """Per rule, the groups that can change anything at `now`: at or above the rule's volume
        floor, or in `live` as (rule, group) (pending or firing). For those, the aggregates are
        exactly the SQL's; the others would only be evaluated "inactive, below the floor"."""
        out: dict[str, RuleStats] = {}
        periods: dict[StatsSpec, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
        for name, rule in rules.items():
            spec = self._spec(rule)
            if spec not in periods:
                periods[spec] = _periods(spec, now)
            w_range, b_ranges = periods[spec]
            groups = self._groups(spec)
            chosen = set(self._busy(spec, w_range[0], max(rule.min_count, 1)))
            chosen |= {key for rule_name, key in live if rule_name == name and key in groups}
            window: dict[GroupKey, Aggregate] = {}
            baseline: dict[GroupKey, Aggregate] = {}
            for key in sorted(chosen):
                series = groups[key]
                w = series.aggregate(w_range)
                if w.count:
                    window[key] = w
                baseline[key] = series.aggregate(b_ranges)
            out[name] = RuleStats(spec, now, window, baseline)
        return out


@dataclass(frozen=True)
class BacktestResult:
    model_version: str
    start: datetime
    end: datetime
    step: timedelta
    ticks: int
    rules: tuple[str, ...]
    rules_sha256: str
    events: tuple[EmittedEvent, ...]
    topics: tuple[str, ...] = ()


def longest_reach(rules: RulesConfig) -> timedelta:
    """How far back of `now` any rule reads (window + baseline, or weeks back), about: the
    baseline's ends are floored, so callers add some slack."""
    reach = timedelta(0)
    for rule in rules.rules:
        spec = StatsSpec.of(rule)
        ranges = spec.baseline_ranges(EPOCH + timedelta(days=3650))
        earliest = min([EPOCH + timedelta(days=3650) - spec.window, *(a for a, _ in ranges)])
        reach = max(reach, EPOCH + timedelta(days=3650) - earliest)
    return reach


def default_bounds(
    engine: Engine, rules: RulesConfig, model_version: str, step: timedelta
) -> tuple[datetime, datetime] | None:
    """From the first stored article (floored to the step grid) to the last one plus the longest
    window and one step: every alert the history can raise, and its resolution where it has one."""
    stored = stored_range(engine, model_version)
    if stored is None:
        return None
    first, last = stored
    start = EPOCH + (first - EPOCH) // step * step
    longest = max((r.window for r in rules.rules), default=timedelta(0))
    return start, last + longest + step


def stored_range(engine: Engine, model_version: str) -> tuple[datetime, datetime] | None:
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(Enrichment.published_at), func.max(Enrichment.published_at)).where(
                Enrichment.model_version == model_version
            )
        ).one()
    return None if first is None or last is None else (first, last)


def run_backtest(
    engine: Engine,
    rules: RulesConfig,
    model_version: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    rules_text: str = "",
    topics: Sequence[str] = (),
    receivers: Sequence[str] = (),
    on_tick: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Evaluate `rules` at `start`, `start + step`, ... up to `end` (inclusive); see the module doc."""
    if step <= timedelta(0):
        raise ValueError("[BKT001] --step must be positive")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("[BKT002] backtest bounds must be aware datetimes")
    by_name = {r.name: r for r in rules.rules}
    rows = load_rows(engine, model_version, start - longest_reach(rules) - timedelta(hours=1), end, topics)
    stats = MemoryStats(rows)
    store = InMemoryStateStore()
    now, ticks = start, 0
    while now <= end:
        states = store.load()
        live = {(s.rule, s.labels) for s in states.values() if s.status in (Status.PENDING, Status.FIRING)}
        tick_stats = stats.for_rules(by_name, now, live)
        plan = plan_tick(by_name, tick_stats, states, [], now, model_version, receivers)
        store.save(plan.states, plan.events)
        ticks += 1
        if on_tick is not None:
            on_tick(ticks)
        now += step
    return BacktestResult(
        model_version=model_version,
        start=start,
        end=end,
        step=step,
        ticks=ticks,
        rules=tuple(sorted(by_name)),
        rules_sha256=hashlib.sha256(rules_text.encode()).hexdigest() if rules_text else "",
        events=tuple(sorted(store.events, key=_event_order)),
        topics=tuple(sorted(topics)),
    )


def _event_order(e: EmittedEvent) -> tuple[str, str, str, str]:
    return (e.event.emitted_at.isoformat(), e.event.rule, e.event.fingerprint, e.event.status)


# --- output ------------------------------------------------------------------------------------------


def event_record(e: EmittedEvent) -> dict[str, Any]:
    ev = e.event
    return {
        "event_id": e.event_id,
        "fingerprint": ev.fingerprint,
        "rule": ev.rule,
        "kind": e.kind,
        "reason": e.reason.value,
        "status": ev.status,
        "topic": ev.topic,
        "labels": dict(ev.labels),
        "severity": ev.severity,
        "window_start": ev.window.start.isoformat(),
        "window_end": ev.window.end.isoformat(),
        "started_at": ev.started_at.isoformat(),
        "ended_at": ev.ended_at.isoformat() if ev.ended_at else None,
        "emitted_at": ev.emitted_at.isoformat(),
        "figures": {k: ev.figures[k] for k in sorted(ev.figures)},
        "model_version": e.model_version,
        "backtest": True,
    }


def to_json(result: BacktestResult) -> str:
    document = {
        "backtest": {
            "model_version": result.model_version,
            "from": result.start.isoformat(),
            "to": result.end.isoformat(),
            "step_s": result.step.total_seconds(),
            "ticks": result.ticks,
            "rules": list(result.rules),
            "rules_sha256": result.rules_sha256,
            "topics": list(result.topics),
            "firing": sum(e.event.status == "firing" for e in result.events),
            "resolved": sum(e.event.status == "resolved" for e in result.events),
        },
        "alerts": [event_record(e) for e in result.events],
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "emitted_at", "status", "rule", "topic", "ticker", "severity", "window_start", "window_end",
    "started_at", "ended_at", "reason", "event_id", "fingerprint",
)


def to_csv(result: BacktestResult) -> str:
    """One row per event; the figures as `figure_<name>` columns (the union over events, sorted)."""
    names = sorted({k for e in result.events for k in e.event.figures})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(f"figure_{n}" for n in names)])
    for e in result.events:
        r = event_record(e)
        r["ticker"] = r["labels"].get("ticker", "")
        writer.writerow(
            [("" if r[c] is None else r[c]) for c in CSV_COLUMNS]
            + [repr(e.event.figures[n]) if n in e.event.figures else "" for n in names]
        )
    return out.getvalue()


# --- delivery ----------------------------------------------------------------------------------------


def deliver(
    engine: Engine,
    result: BacktestResult,
    receiver: Any,
    *,
    public_url: str,
    delivery_run: str,
) -> dict[str, int]:
    """Send the events to `receiver` through the outbox and the dispatcher, marked
    `"backtest": true`. Event ids are re-derived per `delivery_run`, so a second delivery of the
    same backtest is sent again rather than colliding with the first."""
    from alerts.dispatcher import Dispatcher, RetryPolicy
    from alerts.engine import enqueue_delivery
    from alerts.payloads import build_payload, fetch_details
    from pipeline.db.models import AlertEvent as AlertEventRow
    from schemas import utc_now

    now = utc_now()
    with engine.begin() as conn:
        for e in result.events:
            event_id = str(uuid.uuid5(BACKTEST_NAMESPACE, f"{delivery_run}|{e.event_id}"))
            ev = e.event
            headlines, entities = fetch_details(
                conn, model_version=e.model_version, topic=ev.topic, start=ev.window.start,
                end=ev.window.end, ticker=ev.labels.get("ticker"),
            )
            payload = build_payload(
                ev, event_id=event_id, kind=e.kind, reason=e.reason.value, headlines=headlines,
                entities=entities, public_url=public_url, model_version=e.model_version,
            )
            payload["backtest"] = True
            conn.execute(
                AlertEventRow.__table__.insert().values(
                    event_id=event_id, fingerprint=ev.fingerprint, rule=ev.rule, topic=ev.topic,
                    status=ev.status, window_start=ev.window.start, window_end=ev.window.end,
                    figures=dict(ev.figures), severity=ev.severity, labels=dict(ev.labels),
                    started_at=ev.started_at, ended_at=ev.ended_at, emitted_at=ev.emitted_at, backtest=True,
                )
            )
            enqueue_delivery(conn, event_id=event_id, receiver=receiver, payload=payload, now=now)
    dispatcher = Dispatcher(engine, {receiver.name: receiver}, policy=RetryPolicy(base_s=0.2, cap_s=2.0, max_age_s=60.0))
    try:
        stats = dispatcher.drain()
    finally:
        dispatcher.close()
    return {"queued": len(result.events), "delivered": stats.delivered, "failed": stats.failed}
