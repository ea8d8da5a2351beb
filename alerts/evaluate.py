"""Pure rule evaluation: `evaluate(rule, stats, now) -> Decision`. No I/O, no clock of its own.

Significance (one-sided: only "worse than usual" alerts):

- negative_spike: two-proportion z-test of the window's negative share k1/n1 against the
  baseline's k2/n2, pooled variance p(1-p)(1/n1 + 1/n2) with p = (k1+k2)/(n1+n2), and Yates'
  continuity correction (the difference is shrunk by (1/n1 + 1/n2)/2), which keeps small windows
  from looking significant on one or two articles. No baseline article, or p in {0, 1}: z = 0.
- volume_spike: Poisson test of the window count n against the baseline rate scaled to the
  window, lambda = (n_baseline + 1) * window / baseline (the +1 keeps an empty baseline finite),
  z = (n - lambda - 0.5) / sqrt(lambda) (continuity-corrected normal approximation).
- sentiment_drop (and negative_spike's optional `min_mean_drop`): Welch z of the mean score,
  (mean_b - mean_w) / sqrt(var_w/n_w + var_b/n_b); variances come from the sums of squares,
  floored at 0.01, and 0.5 when a period has fewer than two articles.

`p_value` in the figures is the one-sided normal tail of `z`.
The volume floor (`min_count`) is checked first: below it a rule is never active.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from alerts.rules import AnyRule, NegativeSpikeRule, SentimentDropRule, VolumeSpikeRule
from alerts.stats import Aggregate, GroupKey, WindowStats

VARIANCE_FLOOR = 0.01
VARIANCE_UNKNOWN = 0.5


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict of one rule on one group at one instant."""

    rule: AnyRule
    labels: GroupKey
    active: bool
    now: datetime
    window_start: datetime
    window_end: datetime
    reason: str
    figures: Mapping[str, float] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return dict(self.labels).get("topic", "")


def normal_sf(z: float) -> float:
    """One-sided upper tail P(Z >= z) of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided z of p1 = k1/n1 above p2 = k2/n2 (pooled, continuity-corrected); 0 when undefined."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 0.0
    inv = 1.0 / n1 + 1.0 / n2
    diff = k1 / n1 - k2 / n2
    correction = min(abs(diff), 0.5 * inv)
    diff = diff - correction if diff > 0 else diff + correction
    return diff / math.sqrt(pooled * (1.0 - pooled) * inv)


def poisson_z(count: int, expected: float) -> float:
    """One-sided z of `count` above a Poisson mean `expected` (> 0), continuity-corrected."""
    if count <= expected:
        return (count - expected) / math.sqrt(expected)
    return (count - expected - 0.5) / math.sqrt(expected)


def mean_drop_z(window: Aggregate, baseline: Aggregate) -> tuple[float, float] | None:
    """(drop, z) of the mean score from baseline to window; None when either period is empty."""
    mw, mb = window.mean_score, baseline.mean_score
    if mw is None or mb is None:
        return None
    vw = window.score_variance
    vb = baseline.score_variance
    vw = VARIANCE_UNKNOWN if vw is None else max(vw, VARIANCE_FLOOR)
    vb = VARIANCE_UNKNOWN if vb is None else max(vb, VARIANCE_FLOOR)
    drop = mb - mw
    return drop, drop / math.sqrt(vw / window.count + vb / baseline.count)


def could_be_active(
    rule: AnyRule, w: Aggregate, b: Aggregate, window_seconds: float, baseline_seconds: float
) -> bool:
    """A cheap necessary condition of `evaluate(...).active` (the same comparisons, no z and no
    figures): False means inactive for sure. The backtest skips groups without state on it; a
    property test checks that `evaluate` is never active where this says False."""
    if w.count < rule.min_count:
        return False
    if isinstance(rule, NegativeSpikeRule):
        if (w.negative_share or 0.0) < rule.min_negative_share:
            return False
        if rule.min_mean_drop is None:
            return True
        drop = mean_drop_z(w, b)
        return drop is not None and drop[0] >= rule.min_mean_drop
    if isinstance(rule, VolumeSpikeRule):
        expected = (b.count + 1) * window_seconds / max(baseline_seconds, 1.0)
        return w.count / expected >= rule.min_ratio
    drop = mean_drop_z(w, b)
    return drop is not None and drop[0] >= rule.min_drop


def evaluate(rule: AnyRule, stats: WindowStats, now: datetime) -> Decision:
    """Whether `rule` holds for the group of `stats` at `now`, with the figures that say why."""
    w, b = stats.window, stats.baseline
    figures: dict[str, float] = {
        "count": float(w.count),
        "negative": float(w.negative),
        "baseline_count": float(b.count),
        "baseline_negative": float(b.negative),
    }
    for name, value in (
        ("negative_share", w.negative_share),
        ("baseline_negative_share", b.negative_share),
        ("mean_score", w.mean_score),
        ("baseline_mean_score", b.mean_score),
    ):
        if value is not None:
            figures[name] = round(value, 6)

    def decide(active: bool, reason: str) -> Decision:
        return Decision(
            rule=rule,
            labels=stats.labels,
            active=active,
            now=now,
            window_start=stats.window_start,
            window_end=stats.window_end,
            reason=reason,
            figures=figures,
        )

    if w.count < rule.min_count:
        return decide(False, f"below volume floor ({w.count} < {rule.min_count})")

    if isinstance(rule, NegativeSpikeRule):
        z = two_proportion_z(w.negative, w.count, b.negative, b.count)
        figures["z"] = round(z, 4)
        figures["p_value"] = normal_sf(z)
        share = w.negative_share or 0.0
        drop = mean_drop_z(w, b)
        if drop is not None:
            figures["mean_drop"] = round(drop[0], 6)
        if share < rule.min_negative_share:
            return decide(False, f"negative share {share:.2f} < {rule.min_negative_share}")
        if z < rule.min_z:
            return decide(False, f"z {z:.2f} < {rule.min_z}")
        if rule.min_mean_drop is not None and (drop is None or drop[0] < rule.min_mean_drop):
            return decide(False, f"mean drop below {rule.min_mean_drop}")
        return decide(True, f"negative share {share:.2f} vs {b.negative_share or 0.0:.2f}, z {z:.2f}")

    if isinstance(rule, VolumeSpikeRule):
        expected = (b.count + 1) * stats.window_seconds / max(stats.baseline_seconds, 1.0)
        z = poisson_z(w.count, expected)
        ratio = w.count / expected
        figures.update(expected_count=round(expected, 4), ratio=round(ratio, 4), z=round(z, 4))
        figures["p_value"] = normal_sf(z)
        if ratio < rule.min_ratio:
            return decide(False, f"ratio {ratio:.2f} < {rule.min_ratio}")
        if z < rule.min_z:
            return decide(False, f"z {z:.2f} < {rule.min_z}")
        return decide(True, f"{w.count} articles vs {expected:.1f} expected, z {z:.2f}")

    if isinstance(rule, SentimentDropRule):
        drop = mean_drop_z(w, b)
        if drop is None:
            return decide(False, "no baseline")
        figures.update(mean_drop=round(drop[0], 6), z=round(drop[1], 4))
        figures["p_value"] = normal_sf(drop[1])
        if drop[0] < rule.min_drop:
            return decide(False, f"mean drop {drop[0]:.2f} < {rule.min_drop}")
        if drop[1] < rule.min_z:
            return decide(False, f"z {drop[1]:.2f} < {rule.min_z}")
        return decide(True, f"mean score fell by {drop[0]:.2f}, z {drop[1]:.2f}")

    raise TypeError(f"unknown rule kind {type(rule).__name__}")
