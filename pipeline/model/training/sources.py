"""Loaders for every file of `../shared/data` (see its README for the quirks handled here).

Sentiment scores of SemEval-2017 task 5 and FiQA are bucketed: score <= -0.1 negative,
score >= 0.1 positive, otherwise neutral (`SCORE_THRESHOLD`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.model.labels import TOPIC_NAMES
from pipeline.model.training.examples import TaggedExample, TextExample

SCORE_THRESHOLD = 0.1
TWITTER_SENTIMENT = {"0": "negative", "1": "positive", "2": "neutral"}
WNUT_TYPES = {
    "person": "PER",
    "location": "LOC",
    "corporation": "ORG",
    "group": "ORG",
    "product": "MISC",
    "creative-work": "MISC",
}
SENTFIN_DECISION = re.compile(r"'(.+?)': '(positive|negative|neutral)'(?=[,}])")

TOPIC_FILES = ("topic/twitter_fin_topic_train.csv",)
SENTIMENT_FILES = (
    "sentiment/twitter_fin_sentiment_train.csv",
    "sentiment/sentfin/SEntFiN.csv",
    "sentiment/semeval2017_task5/SemEval2017Task5Headlines.json",
    "sentiment/fiqa_task1/FiQA_post.json",
)
NER_FILES = (
    "ner/conll2003/eng.train",
    "ner/wnut17/wnut17train.conll",
    "ner/wnut17/emerging.dev.conll",
    "ner/wnut17/emerging.test.annotated",
    "ner/wikigold/wikigold.conll.txt",
    *(f"ner/btc/{p}.conll" for p in "abefgh"),
    "ner/sec_filings/FIN5.txt",
)
NER_EVAL_FILE = "ner/conll2003/eng.testa"


def bucket(score: float) -> str:
    """Sentiment class of a score in [-1, 1]."""
    if score <= -SCORE_THRESHOLD:
        return "negative"
    return "positive" if score >= SCORE_THRESHOLD else "neutral"


def load_topic(data_dir: Path) -> list[TextExample]:
    return load_topic_file(data_dir / TOPIC_FILES[0])


def load_topic_file(path: Path) -> list[TextExample]:
    """`text,label` CSV with topic ids 0-19."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            TextExample(r["text"], TOPIC_NAMES[int(r["label"])], "twitter_fin_topic")
            for r in csv.DictReader(f)
        ]


def load_twitter_sentiment_file(path: Path) -> list[TextExample]:
    """`text,label` CSV with 0 Bearish, 1 Bullish, 2 Neutral."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            TextExample(r["text"], TWITTER_SENTIMENT[r["label"]], "twitter_fin_sentiment")
            for r in csv.DictReader(f)
        ]


def load_sentiment(data_dir: Path) -> list[TextExample]:
    """All four sentiment sources, mapped to negative / neutral / positive."""
    out = load_twitter_sentiment_file(data_dir / SENTIMENT_FILES[0])
    out += list(load_sentfin_file(data_dir / SENTIMENT_FILES[1]))
    out += list(load_semeval_file(data_dir / SENTIMENT_FILES[2]))
    out += list(load_fiqa_file(data_dir / SENTIMENT_FILES[3]))
    return out


def load_sentfin_file(path: Path) -> Iterator[TextExample]:
    """Headline-level labels where every entity in `Decisions` agrees."""
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            labels = {m.group(2) for m in SENTFIN_DECISION.finditer(row["Decisions"])}
            if len(labels) == 1:
                yield TextExample(row["Title"], labels.pop(), "sentfin")


def load_semeval_file(path: Path) -> Iterator[TextExample]:
    by_title: dict[str, set[str]] = {}
    for r in json.loads(path.read_text(encoding="utf-8")):
        title = r["title"].replace("Â£", "£").replace("Â", "")
        by_title.setdefault(title, set()).add(bucket(float(r["sentiment"])))
    for title, labels in by_title.items():
        if len(labels) == 1:
            yield TextExample(title, labels.pop(), "semeval2017_task5")


def load_fiqa_file(path: Path) -> Iterator[TextExample]:
    for item in json.loads(path.read_text(encoding="utf-8")).values():
        labels = {bucket(float(i["sentiment_score"])) for i in item["info"]}
        if len(labels) == 1:
            yield TextExample(item["sentence"], labels.pop(), "fiqa_task1")


def load_ner(data_dir: Path) -> list[TaggedExample]:
    """Every NER training file, tags mapped to PER/ORG/LOC/MISC and converted to BIO."""
    out: list[TaggedExample] = []
    for rel in NER_FILES:
        source = rel.split("/")[1]
        out += read_conll(data_dir / rel, source)
    return out


def read_conll(path: Path, source: str) -> list[TaggedExample]:
    """CoNLL-style columns (word first, tag last), blank-line separated; any tag scheme -> BIO."""
    sentences: list[TaggedExample] = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if words:
            sentences.append(TaggedExample(tuple(words), tuple(to_bio(tags)), source))
        words.clear()
        tags.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or not cols[0].strip():
            flush()
            continue
        if cols[0] == "-DOCSTART-":
            flush()
            continue
        words.append(cols[0].strip())
        tags.append(map_tag(cols[-1].strip() if len(cols) > 1 else "O"))
    flush()
    return sentences


def map_tag(tag: str) -> str:
    """Map a tag onto PER/ORG/LOC/MISC; unknown types become `O`."""
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, kind = tag.split("-", 1)
    kind = WNUT_TYPES.get(kind, kind)
    return f"{prefix}-{kind}" if kind in ("PER", "ORG", "LOC", "MISC") and prefix in ("B", "I") else "O"


def to_bio(tags: list[str]) -> list[str]:
    """IO / IOB1 -> IOB2: an `I-X` that does not continue an `X` entity starts one."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out
