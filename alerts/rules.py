"""Alert rules: a YAML file -> typed, validated rules; errors name the file, line and field.

```yaml
version: 1
rules:
  - name: negative-spike
    kind: negative_spike          # negative_spike | volume_spike | sentiment_drop
    topics: ["*"]                 # "*" = every topic in the data; or a list of topic labels
    group_by: [topic]             # [topic] or [topic, ticker]: one alert per group
    window: 15m
    baseline: 7d
    min_count: 8                  # volume floor: no alert on fewer articles in the window
    min_negative_share: 0.5
    min_z: 3.0
    for: 2                        # must hold for 2 consecutive evaluations
    keep_firing_for: 15m
    repeat_interval: 4h
    severity: warning
    labels: {team: research}
    receivers: []                 # [] = every configured receiver
```

`RulesFile(path).current()` reloads the file when its mtime changes; a broken edit is logged and
the last good rules stay in force.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

log = logging.getLogger(__name__)

DEFAULT_RULES_PATH: Final = Path(__file__).resolve().parent / "default_rules.yaml"
DEMO_RULES_PATH: Final = Path(__file__).resolve().parent / "demo_rules.yaml"
ALL_TOPICS: Final = "*"
GROUP_LABELS: Final = ("topic", "ticker")

MAX_DURATION_CHARS: Final = 32
"""Longest duration text accepted (spaces included): longer is refused before any parsing."""
_DURATION_PART = re.compile(r"\s*(\d{1,9})([dhms])")
"""One `<number><unit>` after optional spaces; whitespace and digits are disjoint, so each
match is found in one pass (the old single pattern backtracked polynomially on spaces)."""
_UNITS: Final = "dhms"
_UNIT_SECONDS: Final = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def _parse_duration_text(text: str) -> timedelta | None:
    """`1h30m` -> timedelta; units in the order d, h, m, s, each at most once; None when invalid."""
    if len(text) > MAX_DURATION_CHARS:
        return None
    text = text.rstrip()
    position, last_unit, seconds = 0, -1, 0
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        if part is None:
            return None
        unit = _UNITS.index(part.group(2))
        if unit <= last_unit:
            return None
        seconds += int(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position, last_unit = part.end(), unit
    return timedelta(seconds=seconds) if last_unit >= 0 else None


def parse_duration(value: object) -> timedelta:
    """`"15m"`, `"1h30m"`, `"7d"`, `"30s"`, a number of seconds, or a timedelta.

    Text is parsed in linear time and capped at `MAX_DURATION_CHARS`; anything else raises ValueError.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        try:
            parsed = _parse_duration_text(value)
        except OverflowError:
            parsed = None
        if parsed is not None:
            return parsed
        shown = value if len(value) <= MAX_DURATION_CHARS else f"{value[:MAX_DURATION_CHARS]}..."
        raise ValueError(f"invalid duration {shown!r}: use e.g. 30s, 15m, 24h, 7d or 1h30m")
    raise ValueError(f"invalid duration {value!r}: use e.g. 30s, 15m, 24h, 7d or 1h30m")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _RuleBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    topics: tuple[str, ...] = Field(default=(ALL_TOPICS,), min_length=1)
    exclude_topics: tuple[str, ...] = ()
    group_by: tuple[Literal["topic", "ticker"], ...] = ("topic",)
    window: Duration = timedelta(minutes=15)
    baseline: Duration = timedelta(days=7)
    same_hour_of_week: bool = Field(
        default=False, description="baseline = the same window 1..N weeks back (N = baseline / 7d)"
    )
    min_count: int = Field(default=5, ge=1, description="volume floor: min articles in the window")
    min_z: float = Field(default=3.0, ge=0.0, description="one-sided significance threshold")
    for_: int = Field(default=1, ge=1, alias="for", description="consecutive evaluations before firing")
    keep_firing_for: Duration = timedelta(0)
    repeat_interval: Duration = timedelta(hours=4)
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    receivers: tuple[str, ...] = Field(default=(), description="receiver names; empty = all")

    @model_validator(mode="after")
    def _check(self) -> _RuleBase:
        if "topic" not in self.group_by:
            raise ValueError("group_by must contain 'topic'")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by has a duplicate label")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if self.baseline < self.window:
            raise ValueError("baseline must be at least as long as window")
        if self.same_hour_of_week and self.baseline < timedelta(days=7):
            raise ValueError("same_hour_of_week needs a baseline of at least 7d")
        if self.same_hour_of_week and self.window > timedelta(days=7):
            raise ValueError("same_hour_of_week needs a window shorter than 7d")
        if ALL_TOPICS in self.topics and len(self.topics) > 1:
            raise ValueError("topics: '*' cannot be combined with named topics (use exclude_topics)")
        if reserved := set(self.labels) & {"rule", *GROUP_LABELS, "alertname"}:
            raise ValueError(f"labels may not redefine {sorted(reserved)}")
        return self

    @property
    def all_topics(self) -> bool:
        return self.topics == (ALL_TOPICS,)

    def covers(self, topic: str) -> bool:
        """Whether `topic` is one this rule watches."""
        if topic in self.exclude_topics:
            return False
        return self.all_topics or topic in self.topics


class NegativeSpikeRule(_RuleBase):
    """The negative share in the window is high and significantly above the baseline's."""

    kind: Literal["negative_spike"] = "negative_spike"
    min_negative_share: float = Field(default=0.5, ge=0.0, le=1.0)
    min_mean_drop: float | None = Field(default=None, gt=0.0, le=2.0, description="optional: mean score drop")


class VolumeSpikeRule(_RuleBase):
    """A burst of articles: the window's count is far above the baseline's rate."""

    kind: Literal["volume_spike"] = "volume_spike"
    min_ratio: float = Field(default=3.0, gt=1.0, description="window count / expected count")


class SentimentDropRule(_RuleBase):
    """The mean sentiment score (P(pos) - P(neg)) in the window fell below the baseline's."""

    kind: Literal["sentiment_drop"] = "sentiment_drop"
    min_drop: float = Field(default=0.3, gt=0.0, le=2.0)


Rule = Annotated[NegativeSpikeRule | VolumeSpikeRule | SentimentDropRule, Field(discriminator="kind")]
AnyRule = NegativeSpikeRule | VolumeSpikeRule | SentimentDropRule


class RulesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    rules: tuple[Rule, ...] = ()

    def by_name(self, name: str) -> AnyRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


_CONFIG_ADAPTER: Final = TypeAdapter(RulesConfig)


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RulesError(ValueError):
    """[ALR001] A rules file is not valid; `problems` says where (file:line: field: message)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("[ALR001] invalid rules:\n  " + "\n  ".join(str(p) for p in self.problems))


def load_rules(path: Path | str) -> RulesConfig:
    """Read and validate a rules file; raises `RulesError` naming file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([Problem(str(path), None, "", f"cannot read: {exc}")]) from exc
    return parse_rules(text, source=str(path))


def parse_rules(text: str, *, source: str = "<rules>") -> RulesConfig:
    """Validate rules YAML `text`; `source` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RulesError([Problem(source, line, "", f"YAML: {exc.problem or exc}")]) from exc
    if data is None:
        data = {}
    try:
        config = _CONFIG_ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            raw_loc = tuple(err["loc"])
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                raw_loc += ("kind",)
            line, loc = _locate(node, raw_loc)
            problems.append(Problem(source, line, _dotted(loc), err["msg"]))
        raise RulesError(problems) from exc
    seen: dict[str, int] = {}
    problems = []
    for index, rule in enumerate(config.rules):
        if rule.name in seen:
            line, loc = _locate(node, ("rules", index, "name"))
            problems.append(Problem(source, line, _dotted(loc), f"duplicate rule name {rule.name!r}"))
        seen[rule.name] = index
    if problems:
        raise RulesError(problems)
    return config


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _locate(node: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, tuple[Any, ...]]:
    """The 1-based line of the YAML node at pydantic error location `loc` (the deepest one that
    exists: a missing field points at its parent) and `loc` without discriminator tags.
    """
    if node is None:
        return None, loc
    line = node.start_mark.line + 1
    path: list[Any] = []
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        elif isinstance(node, yaml.MappingNode):
            mapping = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            kind = mapping.get("kind")
            if part not in mapping and isinstance(kind, yaml.ScalarNode) and kind.value == part:
                continue  # the union's tag (e.g. 'negative_spike'), not a field
            child = mapping.get(str(part))
        path.append(part)
        if child is None:
            continue
        node = child
        line = node.start_mark.line + 1
    return line, tuple(path)


class RulesFile:
    """A rules file that reloads itself when its mtime changes (`current()`).

    The first load raises `RulesError`; a later broken edit is logged and the last good rules kept.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._mtime_ns: int | None = None
        self._config = load_rules(self.path)
        self._mtime_ns = self._stat()
        self.last_error: RulesError | None = None

    def _stat(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> RulesConfig:
        mtime = self._stat()
        if mtime is not None and mtime != self._mtime_ns:
            self._mtime_ns = mtime
            try:
                self._config = load_rules(self.path)
                self.last_error = None
                log.info("reloaded %d alert rules from %s", len(self._config.rules), self.path)
            except RulesError as exc:
                self.last_error = exc
                log.error("keeping the previous rules: %s", exc)
        return self._config
