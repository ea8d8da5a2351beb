"""The example shapes training and evaluation work on: texts, tagged sentences, entity targets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextExample:
    """A text with one class label (topic or sentiment); `source` names the file it came from."""

    text: str
    label: str
    source: str


@dataclass(frozen=True)
class TaggedExample:
    """A pre-tokenised sentence with one BIO tag per word."""

    words: tuple[str, ...]
    tags: tuple[str, ...]
    source: str

    def text_and_spans(self) -> tuple[str, list[tuple[int, int]]]:
        """The words joined by single spaces and each word's (start, end) char span in that text."""
        spans: list[tuple[int, int]] = []
        pos = 0
        for w in self.words:
            spans.append((pos, pos + len(w)))
            pos += len(w) + 1
        return " ".join(self.words), spans


@dataclass(frozen=True)
class EntityExample:
    """A text, one target entity located in it (`text[start:end]`, chars) and that entity's sentiment."""

    text: str
    start: int
    end: int
    label: str
    source: str

    @property
    def entity(self) -> str:
        return self.text[self.start : self.end]
