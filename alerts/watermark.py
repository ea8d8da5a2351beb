"""Which ticks the live worker evaluates: an event-time watermark with an allowed lateness, and
catch-up of the ticks missed while it was down.

Ticks are event-time instants on the grid of `interval` (multiples since the Unix epoch). A tick
`t` counts the articles with `published_at` in its windows (`< t`); it is evaluated once the wall
clock has passed `t + lateness` (the watermark is `wall clock - lateness`), so an article stored up
to `lateness` after its `published_at` is counted by every tick that would have counted it had it
arrived at once. An article later than that is still counted by every tick evaluated after it is
stored whose window covers it (it is never dropped); only the ticks already evaluated without it
do not see it, and a backtest over the same history does.

That is a tick's final evaluation. Each tick is also evaluated early, as soon as it is due
(`current`: the newest tick whose event time has passed), on the articles stored so far; that
evaluation only fires what already holds (`alerts.early`), so an alert need not wait out the
lateness.

The last evaluated tick is stored with each tick's states (`alert_progress`), so after a restart
every missed tick is evaluated in order, up to `max_catch_up` back (older ones are skipped and
counted: re-sending a week-old outage's alerts helps nobody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.stats import floor_time


@dataclass(frozen=True, slots=True)
class DueTicks:
    ticks: tuple[datetime, ...]
    skipped: int
    """Missed ticks older than `max_catch_up`, not evaluated."""


@dataclass(frozen=True, slots=True)
class Watermark:
    interval: timedelta
    lateness: timedelta = timedelta(seconds=60)
    max_catch_up: timedelta = timedelta(hours=24)

    def newest(self, wall: datetime) -> datetime:
        """The newest tick whose allowed lateness has passed at wall time `wall`."""
        return floor_time(wall - self.lateness, self.interval)

    def current(self, wall: datetime) -> datetime:
        """The newest tick whose event time has passed at wall time `wall` (its early evaluation)."""
        return floor_time(wall, self.interval)

    def next_tick(self, wall: datetime) -> datetime:
        """The first tick after wall time `wall`."""
        return self.current(wall) + self.interval

    def due(self, last: datetime | None, wall: datetime) -> DueTicks:
        """The ticks after `last` (the last evaluated; None: never) that are due at `wall`."""
        newest = self.newest(wall)
        if last is None:
            return DueTicks((newest,), 0)
        first = floor_time(last, self.interval) + self.interval
        oldest = max(floor_time(newest - self.max_catch_up, self.interval), first)
        skipped = max((oldest - first) // self.interval, 0)
        ticks = []
        at = oldest
        while at <= newest:
            ticks.append(at)
            at += self.interval
        return DueTicks(tuple(ticks), skipped)
