"""Whether a matched notice is sent or suppressed: quiet hours, receivers, rate limit.

A suppressed notice is **dropped and counted**, never deferred: it is recorded
(`watchlist_notices.status = 'suppressed'` with the reason) and counted in
`finsent_stream_notices_total{status="suppressed", reason=...}`, but no webhook is sent for it,
then or later. A per-article news alert delivered hours late, after the quiet hours, would be
stale; the record keeps it auditable (`finsent watchlist notices`). Quiet hours are checked
first (a notice dropped in quiet hours does not use up the rate limit), then that a configured
receiver exists, then the rate limit: at most `max_notices` *queued* notices per sliding `per`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from alerts.receivers import Receiver
from alerts.watchlists.model import Watchlist

SuppressReason = Literal["quiet_hours", "no_receiver", "rate_limit"]


def targets(watchlist: Watchlist, receivers: Mapping[str, Receiver]) -> list[Receiver]:
    """The configured receivers a watchlist sends to (every configured one when it names none)."""
    names = watchlist.receivers or tuple(sorted(receivers))
    return [receivers[n] for n in names if n in receivers]


def suppression(
    watchlist: Watchlist, now: datetime, *, has_receiver: bool, queued_recently: Callable[[], int]
) -> SuppressReason | None:
    """Why the notice is not sent now, or None to send it. `queued_recently()` counts the
    watchlist's queued notices within its rate-limit period (called only when needed)."""
    if watchlist.quiet_hours is not None and watchlist.quiet_hours.contains(now):
        return "quiet_hours"
    if not has_receiver:
        return "no_receiver"
    if watchlist.rate_limit is not None and queued_recently() >= watchlist.rate_limit.max_notices:
        return "rate_limit"
    return None
