"""Entity -> ticker linking by a company-name gazetteer from `pytickersymbols` (cashtags: `pipeline.cashtags`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SUFFIXES = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "plc", "ltd", "limited", "llc", "lp",
    "group", "holdings", "holding", "ag", "se", "sa", "nv", "ab", "asa", "spa", "the", "class", "a", "b",
}  # fmt: skip
_GENERIC_FIRST = {
    "american", "general", "first", "united", "national", "international", "china", "bank", "royal",
    "southern", "northern", "western", "eastern", "global", "new", "west", "east", "north", "south",
}  # fmt: skip


def normalize_name(name: str) -> str:
    """Lower-cased words without punctuation and without trailing/leading corporate suffixes."""
    words = re.sub(r"[^\w&]+", " ", name.lower()).split()
    while words and words[-1] in _SUFFIXES:
        words.pop()
    while words and words[0] == "the":
        words.pop(0)
    return " ".join(words)


class Gazetteer:
    """Company names (and their unambiguous first words) and symbols -> primary ticker."""

    def __init__(self, companies: Iterable[tuple[str, str]]) -> None:
        self.by_name: dict[str, str] = {}
        self.symbols: set[str] = set()
        firsts: dict[str, set[str]] = {}
        for name, symbol in companies:
            key = normalize_name(name)
            if not key or not symbol:
                continue
            self.by_name.setdefault(key, symbol)
            self.symbols.add(symbol.upper())
            first = key.split()[0]
            if len(first) >= 5 and first not in _GENERIC_FIRST:
                firsts.setdefault(first, set()).add(symbol)
        for first, syms in firsts.items():
            if len(syms) == 1:
                self.by_name.setdefault(first, next(iter(syms)))

    def lookup(self, surface: str) -> str | None:
        """The ticker of an entity's surface text, or None."""
        key = normalize_name(surface)
        if key in self.by_name:
            return self.by_name[key]
        stripped = surface.strip().lstrip("$")
        if stripped.isupper() and stripped in self.symbols and len(stripped) >= 2:
            return stripped
        return None


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The 1,837 index constituents shipped with `pytickersymbols`."""
    from pytickersymbols import PyTickerSymbols

    stocks = PyTickerSymbols().get_all_stocks()
    return Gazetteer((s["name"], s.get("symbol") or "") for s in stocks)
