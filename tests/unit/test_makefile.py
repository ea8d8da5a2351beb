"""The Makefile: every target it declares phony has a rule (a `.PHONY lint` without one did nothing)."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def test_every_phony_target_has_a_rule() -> None:
    text = MAKEFILE.read_text()
    phony = {name for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for name in line.split()}
    rules = set(re.findall(r"^([\w-]+):(?!=)", text, re.MULTILINE))
    assert "lint" in phony
    assert phony <= rules, f"phony targets without a rule: {sorted(phony - rules)}"
