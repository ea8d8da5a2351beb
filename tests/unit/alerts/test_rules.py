"""Rules YAML: the shipped files load; errors name file, line and field; the file reloads."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.rules import (
    DEFAULT_RULES_PATH,
    DEMO_RULES_PATH,
    NegativeSpikeRule,
    RulesError,
    RulesFile,
    load_rules,
    parse_duration,
    parse_rules,
)


def test_default_rules_cover_every_topic_and_kind() -> None:
    config = load_rules(DEFAULT_RULES_PATH)
    kinds = {r.kind for r in config.rules}
    assert kinds == {"negative_spike", "volume_spike", "sentiment_drop"}
    spike = config.by_name("negative-spike")
    assert isinstance(spike, NegativeSpikeRule) and spike.all_topics
    assert spike.window == timedelta(minutes=15) and spike.for_ == 2
    assert all(r.covers("Energy | Oil") for r in config.rules)
    assert load_rules(DEMO_RULES_PATH).rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        (30, timedelta(seconds=30)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


BAD = """\
version: 1
rules:
  - name: ok
    kind: negative_spike
  - name: broken
    kind: negative_spike
    window: 15x
    min_negative_share: 1.5
  - name: typo
    kind: volume_spike
    min_ration: 3
  - name: ok
    kind: sentiment_drop
"""


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BAD)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    text = str(info.value)
    assert f"{path}:7: rules[1].window: Value error, invalid duration '15x'" in text
    assert f"{path}:8: rules[1].min_negative_share:" in text
    assert f"{path}:11: rules[2].min_ration: Extra inputs are not permitted" in text
    assert [p.line for p in info.value.problems] == [7, 8, 11]


def test_duplicate_names_and_bad_kind_and_yaml_syntax() -> None:
    with pytest.raises(RulesError, match=r"r.yaml:4: rules\[1\].name: duplicate rule name 'a'"):
        parse_rules(
            "rules:\n  - {name: a, kind: volume_spike}\n  -\n    name: a\n    kind: volume_spike\n",
            source="r.yaml",
        )
    with pytest.raises(RulesError, match=r"r.yaml:3: rules\[0\].kind: Input tag 'nope'"):
        parse_rules("rules:\n  - name: x\n    kind: nope\n", source="r.yaml")
    with pytest.raises(RulesError, match=r"r.yaml:1: YAML:"):
        parse_rules("rules: [a, b", source="r.yaml")


def test_semantic_checks() -> None:
    with pytest.raises(RulesError, match="baseline must be at least as long as window"):
        parse_rules("rules:\n  - {name: a, kind: volume_spike, window: 2h, baseline: 1h}\n")
    with pytest.raises(RulesError, match="group_by must contain 'topic'"):
        parse_rules("rules:\n  - {name: a, kind: volume_spike, group_by: [ticker]}\n")


def test_rules_file_reloads_on_change_and_keeps_last_good(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: a, kind: volume_spike}\n")
    rules = RulesFile(path)
    assert [r.name for r in rules.current().rules] == ["a"]

    path.write_text("rules:\n  - {name: b, kind: volume_spike}\n")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert [r.name for r in rules.current().rules] == ["b"]

    path.write_text("rules:\n  - {name: c, kind: volume_spike, window: nope}\n")
    os.utime(path, ns=(1, 3_000_000_000_000_000_000))
    assert [r.name for r in rules.current().rules] == ["b"]
    assert rules.last_error is not None and "rules[0].window" in str(rules.last_error)
