"""Sentence segmentation of news text into character spans, for the entity output's sentence fallback.

A rule-based splitter tuned to news wires (no model, no dependency): a sentence ends at `.`, `!` or
`?` (plus closing quotes or brackets) followed by whitespace and a capital, digit or opening quote,
and at every line break (`RawNews.text` is the title, a newline, then the body, so a headline is a
sentence of its own). A full stop does not end a sentence after

- a single capital (initials: "J. P. Morgan", "John D. Rockefeller"),
- a dotted abbreviation ("U.S.", "U.K.", "e.g.", "a.m."), or a short-form word ("Inc.", "Corp.",
  "Mr.", "Jan.", "No."; `ABBREVIATIONS`), unless a company suffix or dotted abbreviation is followed
  by a common sentence opener ("... bought by Apple Inc. The deal ..."),

and never inside a number ("1.5", "$2.3bn": no whitespace follows). Spans are trimmed of whitespace;
every non-blank character of the text lies in exactly one span.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

TITLES = frozenset("mr mrs ms dr prof sen rep gov gen lt col capt sgt st jr sr rev hon messrs mt ft".split())
"""Short forms that precede a name: never the end of a sentence."""

SUFFIXES = frozenset("inc corp co ltd plc llc lp bros cos intl assn dept".split())
"""Company suffixes, which often close a sentence ("... said Apple Inc. The ...")."""

OTHER = frozenset(
    "no nos vs etc approx est fig vol pp jan feb mar apr jun jul aug sep sept oct nov dec "
    "mon tue wed thu fri sat sun".split()
)
"""Other short forms that rarely end a sentence (month and day names, "No. 2", "vs.")."""

ABBREVIATIONS = TITLES | SUFFIXES | OTHER

OPENERS = frozenset(
    "the a an it its this that these those he she they we i his her their our there here in on at "
    "but and so yet for shares analysts investors however meanwhile separately also after while "
    "as if when what who".split()
)
"""Words that usually start a sentence: after "Inc." or "U.S." they mark a real boundary."""

_CANDIDATE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_NEXT = re.compile(r"\s+([\"'“‘(\[]?)(\w+)?")
_WORD_BEFORE = re.compile(r"(\S+)$")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.){2,}$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) char spans of the sentences of `text`, in order; [] for a blank text."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n\r]+", text):
        start = line.start()
        for cut in _cuts(line.group()):
            spans.append((start, line.start() + cut))
            start = line.start() + cut
        spans.append((start, line.end()))
    return [t for s, e in spans if (t := _trim(text, s, e)) is not None]


def sentence_of(spans: Sequence[tuple[int, int]], char: int) -> int:
    """Index of the span holding `char`: the last one starting at or before it (0 before the first)."""
    return max(bisect_right([s for s, _ in spans], char) - 1, 0)


def _cuts(line: str) -> list[int]:
    """Offsets into `line` just past each sentence-final punctuation mark."""
    cuts: list[int] = []
    for m in _CANDIDATE.finditer(line):
        after = _NEXT.match(line, m.end())
        if after is None or not _starts_sentence(after.group(1), after.group(2)):
            continue
        if m.group().startswith(".") and len(m.group().rstrip("\"'”’)]")) == 1:
            word = _WORD_BEFORE.search(line, 0, m.start())
            if word is not None and not _ends_sentence(word.group(1), after.group(2) or ""):
                continue
        cuts.append(m.end())
    return cuts


def _starts_sentence(quote: str, word: str | None) -> bool:
    """Whether what follows the whitespace can begin a sentence: a capital, a digit or a quote."""
    return bool(quote) or (word is not None and (word[0].isupper() or word[0].isdigit()))


def _ends_sentence(before: str, next_word: str) -> bool:
    """Whether a single full stop after the word `before` (no trailing dot) ends a sentence."""
    word = before.lstrip("\"'“‘([")
    if _DOTTED.match(word + "."):  # "U.S." (the last dot is the candidate itself)
        return next_word.lower() in OPENERS
    if len(word) == 1 and word.isupper():  # an initial
        return False
    key = word.lower()
    if key in SUFFIXES:
        return next_word.lower() in OPENERS
    return key not in ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None
