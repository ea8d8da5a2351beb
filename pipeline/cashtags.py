"""The one cashtag rule (`$AAPL`), shared by ingest (`RawNews.tickers` from the title) and the
model (cashtags in the text become ORG entities with that ticker). No third-party imports: the
ingest process loads it without the model's dependencies.

A cashtag is `$`, then 1-6 letters, optionally `.` and 1-2 letters (a share class: `$BRK.B`),
not preceded by a letter, digit, `_` or `$` (`US$ABC` and `$$ABC` are not tags) and not followed
by a letter, digit or `_` (`$AAPL2` is no tag). Letters of either case match and the symbol is
upper-cased: `$aapl` and `$AAPL` are both `AAPL`, as social-media posts write them and as the
ticker hint `aapl` already is. Amounts are never tags: a digit cannot start a symbol (`$5bn`,
`$100`). The price of accepting lower case: a `$` glued to a word that is no symbol (`$m` for
millions) reads as a tag: tags are not checked against a list of tickers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?!\w)")


@dataclass(frozen=True, slots=True)
class Cashtag:
    """A `$SYMBOL` in a text: the upper-cased symbol and the char offsets of the whole tag."""

    symbol: str
    start: int
    end: int


def cashtags(text: str) -> Iterator[Cashtag]:
    """Every cashtag in `text`, in order."""
    for m in CASHTAG_RE.finditer(text):
        yield Cashtag(m.group(1).upper(), m.start(), m.end())
