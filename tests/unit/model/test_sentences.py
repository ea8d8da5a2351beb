"""The sentence splitter behind the entity output's sentence fallback."""

from __future__ import annotations

import pytest

from pipeline.model.sentences import sentence_of, sentence_spans


def split(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Nvidia rallies as AMD slumps on weak data-centre outlook",
            ["Nvidia rallies as AMD slumps on weak data-centre outlook"],
        ),
        ("Shares rose. Bonds fell.", ["Shares rose.", "Bonds fell."]),
        ("Profit fell! Why? Costs.", ["Profit fell!", "Why?", "Costs."]),
        # decimals and amounts never end a sentence
        (
            "Sales rose to EUR 13.1 mn from EUR 8.7 mn. Margins fell.",
            ["Sales rose to EUR 13.1 mn from EUR 8.7 mn.", "Margins fell."],
        ),
        # dotted abbreviations and company suffixes, unless a sentence opener follows
        (
            "Apple Inc. rose 1.5% in the U.S. on Monday. Microsoft Corp. fell.",
            ["Apple Inc. rose 1.5% in the U.S. on Monday.", "Microsoft Corp. fell."],
        ),
        ("It was bought by Apple Inc. The deal closed.", ["It was bought by Apple Inc.", "The deal closed."]),
        ("Output rose in the U.S. The dollar fell.", ["Output rose in the U.S.", "The dollar fell."]),
        (
            "Trading opened at 10 a.m. Tuesday in the U.K. as expected.",
            ["Trading opened at 10 a.m. Tuesday in the U.K. as expected."],
        ),
        # initials and short forms before a name or number
        (
            "J. P. Morgan cut its view. John D. Rockefeller Jr. smiled.",
            ["J. P. Morgan cut its view.", "John D. Rockefeller Jr. smiled."],
        ),
        (
            "Dr. Smith of XYZ Co. said so. No. 2 player Ford fell... GM rose.",
            ["Dr. Smith of XYZ Co. said so.", "No. 2 player Ford fell...", "GM rose."],
        ),
        ("Results due Jan. 5 from Ford.", ["Results due Jan. 5 from Ford."]),
        # a lower-case word after a stop is no new sentence; quotes close a sentence
        ("Costs (e.g. fuel) rose. See p. five.", ["Costs (e.g. fuel) rose.", "See p. five."]),
        ('He said "we are done." Then he left.', ['He said "we are done."', "Then he left."]),
        # a line break always ends one: the title is a sentence of its own
        (
            "Apple beats estimates\nShares rose 5% after hours. Analysts cheered.",
            ["Apple beats estimates", "Shares rose 5% after hours.", "Analysts cheered."],
        ),
        ("  \n ", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_spans_are_trimmed_and_cover_every_non_blank_char() -> None:
    text = "  Ford rose.   GM fell!\n\n Tesla held.  "
    spans = sentence_spans(text)
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(text[s].strip() and text[e - 1].strip() for s, e in spans)
    assert {i for i, c in enumerate(text) if not c.isspace()} <= covered
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_sentence_of_maps_a_char_to_its_sentence() -> None:
    text = "Ford rose. GM fell. Tesla held."
    spans = sentence_spans(text)
    assert [sentence_of(spans, text.index(w)) for w in ("Ford", "GM", "Tesla", "held")] == [0, 1, 2, 2]
    assert sentence_of(spans, 0) == 0
