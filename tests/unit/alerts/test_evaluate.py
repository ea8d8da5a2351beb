"""`evaluate`: the volume floor, the significance tests, each rule kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.evaluate import evaluate, normal_sf, poisson_z, two_proportion_z
from alerts.rules import NegativeSpikeRule, SentimentDropRule, VolumeSpikeRule
from alerts.stats import Aggregate, WindowStats

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LABELS = (("topic", "Earnings"),)


def stats(
    count: int,
    negative: int,
    base_count: int,
    base_negative: int,
    *,
    mean: float = 0.0,
    base_mean: float = 0.0,
    window: timedelta = timedelta(minutes=15),
    baseline: timedelta = timedelta(days=7),
) -> WindowStats:
    return WindowStats(
        labels=LABELS,
        window_start=NOW - window,
        window_end=NOW,
        window=Aggregate(count, negative, mean * count, (mean * mean + 0.1) * count),
        baseline=Aggregate(
            base_count, base_negative, base_mean * base_count, (base_mean**2 + 0.1) * base_count
        ),
        baseline_seconds=baseline.total_seconds(),
    )


rules = st.one_of(
    st.builds(
        NegativeSpikeRule,
        name=st.just("n"),
        min_count=st.integers(1, 50),
        min_negative_share=st.floats(0, 1),
        min_z=st.floats(0, 5),
    ),
    st.builds(
        VolumeSpikeRule,
        name=st.just("v"),
        min_count=st.integers(1, 50),
        min_ratio=st.floats(1.01, 10),
        min_z=st.floats(0, 5),
    ),
    st.builds(
        SentimentDropRule,
        name=st.just("s"),
        min_count=st.integers(1, 50),
        min_drop=st.floats(0.01, 2),
        min_z=st.floats(0, 5),
    ),
)


@st.composite
def window_stats(draw: st.DrawFn) -> WindowStats:
    count = draw(st.integers(0, 500))
    base = draw(st.integers(0, 50_000))
    return stats(
        count,
        draw(st.integers(0, count)),
        base,
        draw(st.integers(0, base)),
        mean=draw(st.floats(-1, 1)),
        base_mean=draw(st.floats(-1, 1)),
    )


@settings(deadline=None)
@given(rules, window_stats())
def test_never_active_below_the_volume_floor(rule: object, ws: WindowStats) -> None:
    decision = evaluate(rule, ws, NOW)  # type: ignore[arg-type]
    if ws.window.count < rule.min_count:  # type: ignore[attr-defined]
        assert not decision.active
        assert "volume floor" in decision.reason
    assert all(isinstance(v, float) for v in decision.figures.values())


@settings(deadline=None)
@given(st.integers(1, 200), st.integers(0, 200), st.integers(1, 5000), st.integers(0, 5000))
def test_two_proportion_z_is_monotone_in_window_negatives(n1: int, k1: int, n2: int, k2: int) -> None:
    k1, k2 = min(k1, n1), min(k2, n2)
    if k1 < n1:
        assert two_proportion_z(k1 + 1, n1, k2, n2) >= two_proportion_z(k1, n1, k2, n2) - 1e-9


def test_significance_values() -> None:
    assert two_proportion_z(8, 10, 200, 1000) > 3.0
    assert two_proportion_z(1, 1, 1, 10) < 2.0  # one article is never significant
    assert two_proportion_z(5, 10, 0, 0) == 0.0  # no baseline: no evidence
    assert abs(normal_sf(1.6448536) - 0.05) < 1e-6
    assert poisson_z(30, 2.0) > 10 and poisson_z(2, 2.0) == 0.0


def test_negative_spike_fires_on_a_clear_spike_only() -> None:
    rule = NegativeSpikeRule(name="n", min_count=8, min_negative_share=0.5, min_z=3.0)
    hot = evaluate(rule, stats(10, 8, 2000, 400), NOW)
    assert hot.active and hot.figures["z"] > 3 and hot.figures["negative_share"] == 0.8
    assert hot.window_end == NOW and hot.labels == (("topic", "Earnings"),)
    assert not evaluate(rule, stats(10, 4, 2000, 400), NOW).active  # share below 0.5
    assert not evaluate(rule, stats(10, 6, 200, 100), NOW).active  # usual share is 0.5: not significant


def test_negative_spike_optional_mean_drop() -> None:
    rule = NegativeSpikeRule(name="n", min_count=8, min_negative_share=0.5, min_z=3.0, min_mean_drop=0.5)
    assert not evaluate(rule, stats(10, 8, 2000, 400, mean=-0.1, base_mean=0.1), NOW).active
    assert evaluate(rule, stats(10, 8, 2000, 400, mean=-0.6, base_mean=0.1), NOW).active


def test_volume_spike() -> None:
    rule = VolumeSpikeRule(
        name="v",
        min_count=10,
        min_ratio=3.0,
        min_z=3.0,
        window=timedelta(minutes=15),
        baseline=timedelta(hours=24),
    )
    # 96 articles a day = 1 per 15 minutes
    assert evaluate(rule, stats(20, 0, 96, 0, baseline=timedelta(hours=24)), NOW).active
    assert not evaluate(rule, stats(10, 0, 960, 0, baseline=timedelta(hours=24)), NOW).active


def test_sentiment_drop() -> None:
    rule = SentimentDropRule(name="s", min_count=10, min_drop=0.3, min_z=3.0)
    assert evaluate(rule, stats(40, 0, 4000, 0, mean=-0.4, base_mean=0.1), NOW).active
    assert not evaluate(rule, stats(40, 0, 4000, 0, mean=0.0, base_mean=0.1), NOW).active
    assert not evaluate(rule, stats(40, 0, 0, 0, mean=-0.9), NOW).active  # no baseline


def test_baseline_ranges_are_floored_and_weekly() -> None:
    from alerts.stats import StatsSpec

    rule = SentimentDropRule(
        name="s", window=timedelta(hours=1), baseline=timedelta(days=14), same_hour_of_week=True
    )
    at = datetime(2026, 3, 2, 12, 3, 17, tzinfo=UTC)
    ranges = StatsSpec.of(rule).baseline_ranges(at)
    assert ranges == (
        (datetime(2026, 2, 23, 11, 0, tzinfo=UTC), datetime(2026, 2, 23, 12, 0, tzinfo=UTC)),
        (datetime(2026, 2, 16, 11, 0, tzinfo=UTC), datetime(2026, 2, 16, 12, 0, tzinfo=UTC)),
    )
    plain = StatsSpec.of(
        NegativeSpikeRule(name="n", window=timedelta(minutes=15), baseline=timedelta(days=7))
    )
    assert plain.baseline_ranges(at) == (
        (datetime(2026, 2, 23, 11, 45, tzinfo=UTC), datetime(2026, 3, 2, 11, 45, tzinfo=UTC)),
    )
    assert plain.baseline_ranges(at + timedelta(minutes=1)) == plain.baseline_ranges(
        at
    )  # cacheable per 5 min


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["neg", "neg-drop", "volume", "drop"]),
    st.integers(0, 40), st.integers(0, 40), st.integers(-64, 64), st.integers(0, 400), st.integers(0, 400),
    st.integers(-64, 64),
)
def test_could_be_active_is_a_necessary_condition(
    kind: str, n: int, k: int, mean_w: int, nb: int, kb: int, mean_b: int
) -> None:
    """Wherever `evaluate` says active, `could_be_active` says True (the backtest skips on False)."""
    from alerts.evaluate import could_be_active

    rule = {
        "neg": NegativeSpikeRule(name="n", min_count=3, min_negative_share=0.4, min_z=1.0),
        "neg-drop": NegativeSpikeRule(name="n", min_count=3, min_negative_share=0.4, min_z=1.0, min_mean_drop=0.2),
        "volume": VolumeSpikeRule(name="v", min_count=3, min_ratio=2.0, min_z=1.0),
        "drop": SentimentDropRule(name="d", min_count=3, min_drop=0.2, min_z=1.0),
    }[kind]
    w = Aggregate(n, min(k, n), n * mean_w / 64, n * (mean_w / 64) ** 2 + n * 0.01)
    b = Aggregate(nb, min(kb, nb), nb * mean_b / 64, nb * (mean_b / 64) ** 2 + nb * 0.01)
    stats = WindowStats(LABELS, NOW - rule.window, NOW, w, b, rule.baseline.total_seconds())
    if evaluate(rule, stats, NOW).active:
        assert could_be_active(rule, w, b, rule.window.total_seconds(), rule.baseline.total_seconds())
