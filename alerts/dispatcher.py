"""Outbox dispatcher: sends pending `webhook_deliveries` rows as signed webhooks with httpx.

A small chain of stages per round: claim -> sign and send -> classify -> record.

- claim: due rows (`status='pending' AND next_attempt_at <= now`), `FOR UPDATE SKIP LOCKED` on
  Postgres, leased: `next_attempt_at` pushed `lease_s` forward and a fresh `lease_token` written.
  Per receiver, rows go out in order: a row waits while an older row of its receiver is backing
  off (head of line).
- renew: right before each send, the row's lease is renewed *if the token is still ours*
  (`UPDATE ... WHERE lease_token = ours`). A dispatcher that took longer than the lease over the
  earlier rows of its batch finds its token replaced by whoever claimed the row after the lease
  ran out, and skips it: two dispatchers never send one row at the same time, however long a
  batch takes. `lease_s` must exceed the longest single send (a request is bounded by its
  receiver's `timeout_s` per connect/read/write; `lease_s >= 4 x timeout_s` is enforced). A
  dispatcher killed mid-send leaves the row leased; another sends it once the lease is over,
  with the same `webhook-id` (at least once: receivers dedup on `webhook-id`).
- send: the stored body, Standard Webhooks headers; the same `webhook-id` on every attempt and a
  fresh `webhook-timestamp` (always the wall clock: receivers check it; `clock` only schedules).
- read: at most `MAX_RESPONSE_BYTES` of the answer's body, within `timeout_s` (the rest is never
  downloaded; `accept-encoding: identity`, so nothing is inflated); printable text only.
- classify: 2xx delivered; timeouts, connection errors, 408, 429 and 5xx are retried
  (`Retry-After` honoured); other 4xx fail at once (not recoverable).
- record (only while the token is ours): retry at `next_attempt(...)` (tenacity's exponential
  backoff, with jitter), or `failed` once the next attempt would be later than
  `created_at + max_age`; `last_error` says why, in at most `MAX_ERROR_CHARS` (every `read` user
  sees it).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import tenacity
from sqlalchemy import Engine, and_, exists, func, select, text, update
from sqlalchemy.orm import aliased

from alerts.receivers import Receiver
from alerts.signing import headers_for
from pipeline.db.models import WebhookDelivery
from schemas import utc_now

log = logging.getLogger(__name__)

USER_AGENT = "finsent-webhooks/1"
CLAIM_LOCK = 0x66696E73656E74  # "finsent": the advisory lock that serialises claims on Postgres
MAX_RESPONSE_BYTES = 4096
"""At most this much of a receiver's answer is read; the rest is never downloaded."""
MAX_ERROR_CHARS = 300
"""`last_error` is cut to this length (it is shown to `read` users and in the CLI)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 2.0
    cap_s: float = 300.0
    max_age_s: float = 86_400.0
    lease_s: float = 120.0
    jitter: float = 0.5
    """Fraction of the backoff that is random: delay = backoff * (1 - jitter + jitter * U[0,1))."""

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1` without jitter: tenacity's exponential wait."""
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = max(attempts, 1)
        return float(tenacity.wait_exponential(multiplier=self.base_s, max=self.cap_s)(state))


def next_attempt(
    attempts: int,
    now: datetime,
    policy: RetryPolicy,
    *,
    retry_after_s: float | None = None,
    rand: float = 0.5,
) -> datetime:
    """When to try again after `attempts` failed attempts (>= 1): exponential backoff with jitter,
    never sooner than the receiver's `Retry-After`. `rand` in [0, 1) is the jitter draw.
    """
    delay = policy.backoff(attempts) * (1.0 - policy.jitter + policy.jitter * rand)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP attempt means for its delivery."""

    delivered: bool
    retryable: bool
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def classify(
    response: httpx.Response | None, error: Exception | None, now: datetime, body: str = ""
) -> AttemptResult:
    """What an attempt's response (with the start of its `body`, as `read_body` read it) or
    exception means for the delivery."""
    if error is not None:
        retryable = isinstance(error, httpx.TransportError)
        return AttemptResult(False, retryable, None, error_text(f"{type(error).__name__}: {error}"))
    assert response is not None
    code = response.status_code
    if 200 <= code < 300:
        return AttemptResult(True, False, code)
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    text = error_text(f"HTTP {code}: {body}")
    if code == 429 or code >= 500 or code == 408:
        return AttemptResult(False, True, code, text, retry_after)
    return AttemptResult(False, False, code, text)


def error_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` as one line of printable characters (control characters and newlines become spaces),
    cut to `limit` characters."""
    line = "".join(c if c.isprintable() else " " for c in text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def read_body(response: httpx.Response, *, timeout_s: float, limit: int = MAX_RESPONSE_BYTES) -> str:
    """At most `limit` bytes of a streamed response's body, read within `timeout_s`, as text."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return f"({encoding[:20]}-encoded body not read)"
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:limit].decode(response.encoding or "utf-8", errors="replace")


@dataclass
class DispatchStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    lost_lease: int = 0
    """Claimed rows another dispatcher took over (this one's lease had run out): not sent here."""

    def add(self, other: DispatchStats) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.lost_lease += other.lost_lease


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    webhook_id: str
    receiver: str
    url: str
    payload: str
    attempts: int
    created_at: datetime
    due_at: datetime
    token: str


class Dispatcher:
    """Sends due outbox rows; `run_once()` is one round (call it every few seconds)."""

    def __init__(
        self,
        engine: Engine,
        receivers: Mapping[str, Receiver],
        *,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        batch_size: int = 100,
        on_outcome: Callable[[str, AttemptResult], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.receivers = dict(receivers)
        self.client = client or httpx.Client(headers={"user-agent": USER_AGENT})
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_size = batch_size
        self.on_outcome = on_outcome
        self.wall_clock = wall_clock
        longest = max((r.timeout_s for r in self.receivers.values()), default=0.0)
        if self.policy.lease_s < 4 * longest:
            raise ValueError(
                f"[ALR060] the dispatcher lease ({self.policy.lease_s:g}s) must be at least 4x the longest "
                f"receiver timeout ({longest:g}s): a send must end before its lease does"
            )

    def close(self) -> None:
        self.client.close()

    def run_once(self) -> DispatchStats:
        stats = DispatchStats()
        claimed = self._claim()
        stats.claimed = len(claimed)
        blocked: set[str] = set()
        for row in claimed:
            if row.receiver in blocked:
                self._release(row)  # keep per-receiver order: retry after the head is through
                continue
            if not self._renew(row):
                stats.lost_lease += 1
                log.warning("webhook %s: lease taken over by another dispatcher; not sent here", row.webhook_id)
                continue
            outcome = self._send(row)
            if self.on_outcome is not None:
                self.on_outcome(row.receiver, outcome)
            result = self._record(row, outcome)
            if result == "lost":
                stats.lost_lease += 1
            elif result == "delivered":
                stats.delivered += 1
            elif result == "retry":
                stats.retried += 1
                blocked.add(row.receiver)
            else:
                stats.failed += 1
        return stats

    def drain(self, *, max_rounds: int = 1000) -> DispatchStats:
        """Rounds until nothing is due (for demos and tests)."""
        total = DispatchStats()
        for _ in range(max_rounds):
            stats = self.run_once()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def wait_for_due(self, max_s: float = 5.0) -> None:
        """Sleep until the earliest pending row is due (at most `max_s`; for demos and drains)."""
        d = WebhookDelivery
        with self.engine.connect() as conn:
            earliest = conn.scalar(select(func.min(d.next_attempt_at)).where(d.status == "pending"))
        if earliest is not None:
            time.sleep(min(max((earliest - self.clock()).total_seconds(), 0.01), max_s))

    # --- stages -----------------------------------------------------------------------------------

    def _claim(self) -> list[_Claimed]:
        now = self.clock()
        d = WebhookDelivery
        older = aliased(WebhookDelivery)
        blocked_by_older = exists().where(
            and_(
                older.receiver == d.receiver,
                older.status == "pending",
                older.id < d.id,
                older.next_attempt_at > now,
            )
        )
        query = (
            select(
                d.id, d.webhook_id, d.receiver, d.url, d.payload, d.attempts, d.created_at, d.next_attempt_at
            )
            .where(d.status == "pending", d.next_attempt_at <= now, ~blocked_by_older)
            .order_by(d.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=d)
        )
        lease_until = now + timedelta(seconds=self.policy.lease_s)
        token = secrets.token_hex(16)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # one claim at a time, so a claim sees the leases of the one before it (the head of
                # line check reads committed rows: without this, two concurrent claims would both
                # see the other's rows as due and split one receiver's queue out of order)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            rows = [_Claimed(*r, token) for r in conn.execute(query)]
            if rows:
                conn.execute(
                    update(d)
                    .where(d.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=lease_until, lease_token=token)
                )
        return rows

    def _renew(self, row: _Claimed) -> bool:
        """Extend this row's lease to a full `lease_s` from now, if it is still ours."""
        d = WebhookDelivery
        lease_until = self.clock() + timedelta(seconds=self.policy.lease_s)
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(d)
                .where(d.id == row.id, d.lease_token == row.token, d.status == "pending")
                .values(next_attempt_at=lease_until)
            )
        return renewed.rowcount == 1

    def _send(self, row: _Claimed) -> AttemptResult:
        receiver = self.receivers.get(row.receiver)
        now = self.clock()
        if receiver is None:
            return AttemptResult(False, False, None, f"receiver {row.receiver!r} is not configured")
        headers = headers_for(
            receiver.secret.get_secret_value(), row.webhook_id, int(self.wall_clock()), row.payload
        )
        headers["content-type"] = "application/json"
        headers["accept-encoding"] = "identity"
        try:
            with self.client.stream(
                "POST", receiver.url, content=row.payload.encode("utf-8"), headers=headers, timeout=receiver.timeout_s
            ) as response:
                body = read_body(response, timeout_s=receiver.timeout_s)
        except httpx.HTTPError as exc:
            return classify(None, exc, now)
        return classify(response, None, now, body)

    def _record(self, row: _Claimed, outcome: AttemptResult) -> str:
        now = self.clock()
        d = WebhookDelivery
        attempts = row.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        result: str
        if outcome.delivered:
            values.update(status="delivered", delivered_at=now, last_error=None)
            result = "delivered"
        elif not outcome.retryable:
            values.update(status="failed", next_attempt_at=now)
            result = "failed"
        else:
            retry_at = next_attempt(
                attempts, now, self.policy, retry_after_s=outcome.retry_after_s, rand=self.rng.random()
            )
            if retry_at > row.created_at + timedelta(seconds=self.policy.max_age_s):
                values.update(
                    status="failed",
                    next_attempt_at=now,
                    last_error=f"gave up after {attempts} attempts (max age "
                    f"{self.policy.max_age_s:g}s): {outcome.error}",
                )
                result = "failed"
            else:
                values.update(next_attempt_at=retry_at)
                result = "retry"
        values["lease_token"] = None
        with self.engine.begin() as conn:
            recorded = conn.execute(update(d).where(d.id == row.id, d.lease_token == row.token).values(**values))
        if recorded.rowcount != 1:
            log.warning("webhook %s: lease lost while sending; the result is not recorded here", row.webhook_id)
            return "lost"
        log.log(
            logging.WARNING if result == "failed" else logging.DEBUG,
            "webhook %s to %s: %s (%s)",
            row.webhook_id,
            row.receiver,
            result,
            outcome.error or outcome.status_code,
        )
        return result

    def _release(self, row: _Claimed) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id, WebhookDelivery.lease_token == row.token)
                .values(next_attempt_at=row.due_at, lease_token=None)
            )


def delivery_counts(engine: Engine) -> dict[str, int]:
    """Outbox rows by status (pending, delivered, failed)."""
    d = WebhookDelivery
    with engine.connect() as conn:
        rows = conn.execute(select(d.status, func.count()).group_by(d.status))
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        counts.update({str(s): int(n) for s, n in rows})
    return counts


def failed_deliveries(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent failed deliveries, with why (for `finsent alerts deliveries --failed`)."""
    d = WebhookDelivery
    query = (
        select(
            d.id,
            d.webhook_id,
            d.event_id,
            d.receiver,
            d.attempts,
            d.last_status_code,
            d.last_error,
            d.created_at,
        )
        .where(d.status == "failed")
        .order_by(d.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
