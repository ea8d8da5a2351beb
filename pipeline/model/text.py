"""Length-preserving text clean-up: every char offset into the cleaned text is valid in the original."""

from __future__ import annotations

import re
import unicodedata

URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
MAX_CHARS = 4_000
"""Chars kept before tokenizing (title + lead); far more than `max_length` tokens ever need."""


def mask_text(text: str) -> str:
    """Blank out links and control/format characters with spaces, keeping the length the same."""
    text = URL_RE.sub(lambda m: " " * len(m.group(0)), text[:MAX_CHARS])
    return "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)


def strip_links(text: str) -> str:
    """Link-free, whitespace-collapsed, lower-cased text: the de-duplication key."""
    return " ".join(URL_RE.sub(" ", text).lower().split())
