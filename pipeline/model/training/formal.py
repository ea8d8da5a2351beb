"""Target-level formal news (SENTiVENT, SentiFM, NewsMTSC) as sentence, entity and paragraph examples.

SENTiVENT and SentiFM are tab-separated, one row per polar expression, with inclusive token spans
into `sentence.split(' ')`; their ids (`<doc> <sentence#> <polex#>`) regroup sentences into articles.
The sentences are re-joined with ordinary spacing (`Inc . AAL` -> `Inc. AAL`, `4.76 %` -> `4.76%`)
so the model reads text as a wire prints it; every span is carried over in characters.

What each file gives:
- sentence sentiment: a sentence whose polar expressions all agree takes that label;
- entity sentiment: each target span with the labels of the expressions that name it (dropped when
  they disagree), in its sentence and in its paragraph;
- paragraphs: consecutive sentences of one article, 2-6 at a time (seeded), every target and every
  sentence keeping its label, so the model sees long, mixed inputs.

The authors' splits are kept: `train` trains, `dev` is the dev figure, `test` (and NewsMTSC's
`devtest_*` files) is reported on the card and never trained or tuned on.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.model.evaluate import contrast_masks
from pipeline.model.training.examples import EntityExample, TextExample

SENTIVENT_FILE = "sentiment/sentivent_implicit/sentivent_implicit.csv"
SENTIFM_FILE = "sentiment/sentifm_en/sentifm-fine-en.csv"
NEWSMTSC_TRAIN_FILE = "sentiment/newsmtsc/train.jsonl"
NEWSMTSC_TEST_FILES = ("sentiment/newsmtsc/devtest_mt.jsonl", "sentiment/newsmtsc/devtest_rw.jsonl")
FORMAL_FILES = (SENTIVENT_FILE, SENTIFM_FILE, NEWSMTSC_TRAIN_FILE, *NEWSMTSC_TEST_FILES)
NEWSMTSC_POLARITY = {2.0: "negative", 4.0: "neutral", 6.0: "positive"}
NEWSMTSC_DEV_SHARE = 0.1  # NewsMTSC's train file has no dev split: a seeded 10 % of it is held out

_SPAN = re.compile(r"\((\d+), (\d+)\)")
_NO_SPACE_BEFORE = {".", ",", "%", ")", ":", ";", "?", "!", "'s", "n't", "'", "]", "'re", "'ve", "'ll", "'d"}
_NO_SPACE_AFTER = {"(", "$", "[", "£", "€", "US$"}


@dataclass(frozen=True)
class Target:
    """A target's char span in its text and its sentiment."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class FormalSentence:
    """One sentence of an article with its polar expressions' labels and its labelled targets."""

    doc: str
    index: int
    text: str
    split: str
    source: str
    polarities: tuple[str, ...]
    targets: tuple[Target, ...]

    @property
    def label(self) -> str | None:
        """The sentence's sentiment when every polar expression in it agrees, else None (mixed)."""
        return self.polarities[0] if len(set(self.polarities)) == 1 else None


@dataclass(frozen=True)
class Paragraph:
    """Consecutive sentences of one article joined by a space; spans in the paragraph's chars."""

    text: str
    split: str
    source: str
    sentences: tuple[tuple[int, int, str | None], ...]  # (start, end, label or None when mixed)
    targets: tuple[Target, ...]

    @property
    def mixed(self) -> bool:
        return len({t.label for t in self.targets}) > 1


@dataclass(frozen=True)
class SpanExample:
    """A text and a labelled char span of it (a sentence inside its paragraph)."""

    text: str
    start: int
    end: int
    label: str
    source: str


def detokenize(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Space-separated tokens -> text with ordinary spacing, and each token's (start, end) chars."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, tok in enumerate(tokens):
        glue = i == 0 or tok in _NO_SPACE_BEFORE or tokens[i - 1] in _NO_SPACE_AFTER
        if not glue:
            parts.append(" ")
            pos += 1
        spans.append((pos, pos + len(tok)))
        parts.append(tok)
        pos += len(tok)
    return "".join(parts), spans


def load_polex_file(path: Path, source: str) -> list[FormalSentence]:
    """SENTiVENT / SentiFM TSV -> sentences in article order."""
    groups: dict[tuple[str, int], list[dict[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            doc, sent, _ = row["id"].rsplit(" ", 2)
            groups.setdefault((doc, int(sent)), []).append(row)
    out = []
    for (doc, index), rows in sorted(groups.items()):
        text, spans = detokenize(rows[0]["sentence"].split(" "))
        labels: dict[tuple[int, int], set[str]] = {}
        for r in rows:
            for a, b in _SPAN.findall(r["target_spans"]):
                labels.setdefault((spans[int(a)][0], spans[int(b)][1]), set()).add(r["polarity"])
        targets = tuple(Target(s, e, ls.pop()) for (s, e), ls in sorted(labels.items()) if len(ls) == 1)
        polarities = tuple(r["polarity"] for r in rows)
        out.append(FormalSentence(doc, index, text, rows[0]["split"], source, polarities, targets))
    return out


def load_newsmtsc_file(path: Path, split: str | None = None, seed: int = 13) -> list[FormalSentence]:
    """NewsMTSC JSONL -> one-sentence 'articles'. With `split` None (the train file) a seeded
    `NEWSMTSC_DEV_SHARE` of the sentences is marked `dev`, the rest `train`."""
    rng = random.Random(seed)
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            item = json.loads(line)
            targets = tuple(
                Target(int(t["from"]), int(t["to"]), NEWSMTSC_POLARITY[float(t["polarity"])])
                for t in item["targets"]
            )
            part = split or ("dev" if rng.random() < NEWSMTSC_DEV_SHARE else "train")
            polarities = tuple(t.label for t in targets)
            out.append(
                FormalSentence(
                    f"newsmtsc-{path.stem}-{n}",
                    0,
                    item["sentence_normalized"],
                    part,
                    "newsmtsc",
                    polarities,
                    targets,
                )
            )
    return out


@dataclass
class FormalData:
    """Every formal-news sentence by source, with the paragraph views built from them."""

    sentences: list[FormalSentence] = field(default_factory=list)

    def part(self, split: str) -> list[FormalSentence]:
        return [s for s in self.sentences if s.split == split]


def load_formal(data_dir: Path, seed: int = 13) -> FormalData:
    sentences = load_polex_file(data_dir / SENTIVENT_FILE, "sentivent")
    sentences += load_polex_file(data_dir / SENTIFM_FILE, "sentifm")
    sentences += load_newsmtsc_file(data_dir / NEWSMTSC_TRAIN_FILE, seed=seed)
    for rel in NEWSMTSC_TEST_FILES:
        sentences += load_newsmtsc_file(data_dir / rel, split="test")
    return FormalData(sentences)


def sentence_examples(sentences: Iterable[FormalSentence]) -> list[TextExample]:
    """Sentence-level sentiment: sentences whose polar expressions agree."""
    return [TextExample(s.text, s.label, f"formal_{s.source}") for s in sentences if s.label is not None]


def entity_examples(items: Iterable[FormalSentence | Paragraph]) -> list[EntityExample]:
    """Each labelled target, in the text it was labelled in (sentence or paragraph)."""
    return [
        EntityExample(i.text, t.start, t.end, t.label, f"formal_{i.source}")
        for i in items
        for t in i.targets
        if t.end > t.start
    ]


def paragraphs(
    sentences: Sequence[FormalSentence], seed: int, sizes: tuple[int, int] = (2, 6)
) -> list[Paragraph]:
    """Each article cut into consecutive runs of 2-6 sentences (lengths drawn with `seed`); one-sentence
    articles (NewsMTSC) are left out."""
    rng = random.Random(seed)
    by_doc: dict[str, list[FormalSentence]] = {}
    for s in sentences:
        by_doc.setdefault(s.doc, []).append(s)
    out = []
    for doc in sorted(by_doc):
        run = sorted(by_doc[doc], key=lambda s: s.index)
        i = 0
        while i < len(run) - 1:
            n = min(rng.randint(*sizes), len(run) - i)
            if n >= 2:
                out.append(_join(run[i : i + n]))
            i += n
    return out


def _join(run: Sequence[FormalSentence]) -> Paragraph:
    pos = 0
    spans: list[tuple[int, int, str | None]] = []
    targets: list[Target] = []
    for s in run:
        spans.append((pos, pos + len(s.text), s.label))
        targets += [Target(t.start + pos, t.end + pos, t.label) for t in s.targets]
        pos += len(s.text) + 1
    return Paragraph(" ".join(s.text for s in run), run[0].split, run[0].source, tuple(spans), tuple(targets))


def sentence_in_context(pars: Iterable[Paragraph]) -> list[SpanExample]:
    """Each sentence of a paragraph with an agreed label, as a span of the paragraph (trains the
    sentiment head on one sentence's tokens pooled from the paragraph's encoder states)."""
    return [
        SpanExample(p.text, s, e, label, f"formal_{p.source}")
        for p in pars
        for s, e, label in p.sentences
        if label is not None
    ]


def paragraph_rows(pars: Iterable[Paragraph]) -> Iterator[dict[str, str]]:
    """Rows of the paragraph entity dev file (`text`, `start`, `end`, `label`, `source`, `mixed`)."""
    for p in pars:
        for t in p.targets:
            yield {
                "text": p.text,
                "start": str(t.start),
                "end": str(t.end),
                "label": t.label,
                "source": p.source,
                "mixed": str(int(p.mixed)),
            }


def contrast_suite(data: FormalData, headline_dev: Sequence[EntityExample], seed: int) -> list[EntityExample]:
    """Every entity of the dev texts whose entities pull opposite ways: SEntFiN dev headlines, formal dev
    sentences, and formal dev paragraphs of two seeded cuts (different boundaries, distinct texts)."""
    dev = data.part("dev")
    by_text: dict[str, list[EntityExample]] = {}
    for e in headline_dev:
        by_text.setdefault(e.text, []).append(e)
    texts: list[FormalSentence | Paragraph] = [*dev, *paragraphs(dev, seed), *paragraphs(dev, seed + 1)]
    for item in texts:
        if item.text not in by_text:
            by_text[item.text] = entity_examples([item])
    ordered = [e for text in sorted(by_text) for e in by_text[text]]
    return [e for e, keep in zip(ordered, contrast_masks(ordered)["opposite"], strict=True) if keep]
