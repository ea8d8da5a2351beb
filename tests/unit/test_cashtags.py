"""`pipeline.cashtags`: the one cashtag rule, as ingest and the model apply it."""

from __future__ import annotations

import pytest

from pipeline.cashtags import cashtags
from pipeline.ingest.normalize import extract_tickers


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Long $aapl and $BRK.B, not US$5 or $100", [("AAPL", "$aapl"), ("BRK.B", "$BRK.B")]),
        ("$AAPL, $Msft and $tsla.", [("AAPL", "$AAPL"), ("MSFT", "$Msft"), ("TSLA", "$tsla")]),
        ("raised $5bn; US$ABC, $$XYZ, $TOOLONGX, $AAPL2, $_A and $ alone", []),
        ("($NVDA) $brk.b", [("NVDA", "$NVDA"), ("BRK.B", "$brk.b")]),
    ],
)
def test_tags_with_offsets(text: str, tags: list[tuple[str, str]]) -> None:
    assert [(t.symbol, text[t.start : t.end]) for t in cashtags(text)] == tags


def test_ingest_reads_title_cashtags_by_the_same_rule() -> None:
    """Before the shared rule, ingest took only upper-case tags while the model took both."""
    title = "Watch $tsla and $BRK.B, not $5"
    assert extract_tickers(None, title) == tuple(t.symbol for t in cashtags(title)) == ("TSLA", "BRK.B")
