"""Regular expressions of duration text within bounds, for documents (OpenAPI, JSON Schema) that
must say which durations a field accepts: `duration_pattern(1 min, 30 d)` matches `1m`..`43200m`,
`1h`..`720h`, `1d`..`30d` and `60s`..`2592000s`. (`alerts.rules.parse_duration` also reads
combinations such as `1h30m`; a document states the one-unit form.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_pattern(low: timedelta, high: timedelta) -> str:
    """A regular expression of the one-unit durations (`90s`, `15m`, `36h`, `7d`) within [low, high]."""
    lo, hi = int(low.total_seconds()), int(high.total_seconds())
    forms = [
        f"(?:{number_pattern(-(-lo // size), hi // size)}){unit}"
        for unit, size in _UNITS.items()
        if -(-lo // size) <= hi // size
    ]
    return f"^(?:{'|'.join(forms)})$"


def number_pattern(low: int, high: int) -> str:
    """A regular expression of the decimal numbers in [low, high] (no sign, no leading zero)."""
    if low > high:
        raise ValueError(f"empty range [{low}, {high}]")
    width_low, width_high = len(str(low)), len(str(high))
    if width_low < width_high:
        return f"{number_pattern(low, 10**width_low - 1)}|{number_pattern(10**width_low, high)}"
    return _same_width(str(low), str(high))


def _same_width(low: str, high: str) -> str:
    rest = len(low) - 1
    if low[1:] == "0" * rest and high[1:] == "9" * rest:
        head = low[0] if low[0] == high[0] else f"[{low[0]}-{high[0]}]"
        return head + (f"[0-9]{{{rest}}}" if rest else "")
    if len(low) == 1:
        return low if low == high else f"[{low}-{high}]"
    if low[0] == high[0]:
        return f"{low[0]}(?:{_same_width(low[1:], high[1:])})"
    parts = [f"{low[0]}(?:{_same_width(low[1:], '9' * rest)})"]
    if int(high[0]) - int(low[0]) > 1:
        parts.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}][0-9]{{{rest}}}")
    parts.append(f"{high[0]}(?:{_same_width('0' * rest, high[1:])})")
    return "|".join(parts)
