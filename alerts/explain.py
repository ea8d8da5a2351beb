"""Why an alert fired, in plain words and figures, from an event's stored figures (and its rule's
thresholds when the rule is still configured)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from alerts.payloads import SIGNIFICANCE_TESTS
from alerts.rules import AnyRule, NegativeSpikeRule, SentimentDropRule, VolumeSpikeRule


def span(delta: timedelta) -> str:
    """`timedelta(hours=2)` -> "2 h", 15 minutes -> "15 min", 7 days -> "7 d"."""
    seconds = int(delta.total_seconds())
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def explain(
    *,
    kind: str | None,
    topic: str,
    status: str,
    figures: Mapping[str, float],
    window_start: datetime,
    window_end: datetime,
    labels: Mapping[str, str],
    rule: AnyRule | None = None,
) -> str:
    """A few sentences: what was measured, against what, how significant, and the rule's bar."""
    f = figures
    subject = f"{topic} ({labels['ticker']})" if labels.get("ticker") else topic
    period = f"the {span(window_end - window_start)} to {when(window_end)}"
    count, negative = int(f.get("count", 0)), int(f.get("negative", 0))
    base_count = int(f.get("baseline_count", 0))
    if kind == "volume_spike":
        what = (
            f"{count} articles on {subject} in {period}, against {f.get('expected_count', 0):.1f} expected "
            f"from the baseline rate ({f.get('ratio', 0):.1f} times as many)."
        )
    elif kind == "sentiment_drop":
        what = (
            f"The mean sentiment score of the {count} articles on {subject} in {period} was "
            f"{f.get('mean_score', 0):+.2f}, against {f.get('baseline_mean_score', 0):+.2f} over the "
            f"{base_count} baseline articles (a drop of {f.get('mean_drop', 0):.2f})."
        )
    else:
        baseline = (
            f"against {_pct(f.get('baseline_negative_share'))} of {base_count} articles in the baseline before it"
            if base_count
            else "with no article in the baseline before it"
        )
        what = (
            f"{negative} of {count} articles on {subject} in {period} were negative "
            f"({_pct(f.get('negative_share'))}), {baseline}."
        )
    sentences = [what]
    if "z" in f:
        test = SIGNIFICANCE_TESTS.get(kind or "", "one-sided test")
        p = f.get("p_value")
        sentences.append(f"Significance: z = {f['z']:.2f}" + (f", p = {p:.2g}" if p is not None else "") + f" ({test}).")
    if rule is not None:
        sentences.append(_threshold(rule))
    if status == "resolved":
        sentences.append("It is resolved: the condition stopped holding (the figures are from the last evaluation).")
    return " ".join(sentences)


def _threshold(rule: AnyRule) -> str:
    bar = f"at least {rule.min_count} articles in {span(rule.window)}"
    if isinstance(rule, NegativeSpikeRule):
        bar += f", at least {rule.min_negative_share:.0%} negative"
    elif isinstance(rule, VolumeSpikeRule):
        bar += f", at least {rule.min_ratio:g} times the baseline rate"
    elif isinstance(rule, SentimentDropRule):
        bar += f", a mean score drop of at least {rule.min_drop:g}"
    if rule.min_z > 0:
        bar += f" and z of at least {rule.min_z:g}"
    held = f", holding for {rule.for_} evaluations" if rule.for_ > 1 else ""
    return f"Rule {rule.name} fires on {bar}{held}, against a {span(rule.baseline)} baseline."
