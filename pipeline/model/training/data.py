"""The training corpus: load every useful file, de-duplicate, split dev, record file hashes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.model.backbone import sha256_file
from pipeline.model.training.dedup import dedup_tagged, dedup_texts, stratified_split
from pipeline.model.training.examples import TaggedExample, TextExample
from pipeline.model.training.sources import (
    NER_FILES,
    SENTIMENT_FILES,
    TOPIC_FILES,
    load_ner,
    load_sentiment,
    load_topic,
)


@dataclass(frozen=True)
class Corpus:
    """Train and dev examples per task, plus what was done to get them (for the model card)."""

    topic_train: list[TextExample]
    topic_dev: list[TextExample]
    sentiment_train: list[TextExample]
    sentiment_dev: list[TextExample]
    ner_train: list[TaggedExample]
    ner_dev: list[TaggedExample]
    stats: dict[str, object] = field(default_factory=dict)


def training_files(data_dir: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file the corpus reads."""
    return {rel: sha256_file(data_dir / rel) for rel in (*TOPIC_FILES, *SENTIMENT_FILES, *NER_FILES)}


def build_corpus(
    data_dir: Path, seed: int, dev_fraction: float = 0.1, ner_dev_fraction: float = 0.05
) -> Corpus:
    """Topic and sentiment: de-duplicated on link-stripped text (conflicts dropped), then split
    stratified by (source, label). NER: identical sentences dropped; dev = a random slice of CoNLL
    train (eng.testa is never trained or tuned on)."""
    topic, topic_conflicts = dedup_texts(load_topic(data_dir))
    sentiment, sent_conflicts = dedup_texts(load_sentiment(data_dir))
    topic_train, topic_dev = stratified_split(topic, lambda e: e.label, dev_fraction, seed)
    sent_train, sent_dev = stratified_split(sentiment, lambda e: (e.source, e.label), dev_fraction, seed)
    ner = dedup_tagged(load_ner(data_dir))
    conll = [e for e in ner if e.source == "conll2003"]
    rng = random.Random(seed)
    rng.shuffle(conll)
    n_dev = round(len(conll) * ner_dev_fraction)
    dev_keys = {id(e) for e in conll[:n_dev]}
    ner_train = [e for e in ner if id(e) not in dev_keys]
    ner_dev = conll[:n_dev]
    stats: dict[str, object] = {
        "topic": {
            "unique": len(topic),
            "conflicting_dropped": topic_conflicts,
            "train": len(topic_train),
            "dev": len(topic_dev),
        },
        "sentiment": {
            "unique": len(sentiment),
            "conflicting_dropped": sent_conflicts,
            "train": len(sent_train),
            "dev": len(sent_dev),
            "by_source": _count(e.source for e in sentiment),
        },
        "ner": {
            "unique": len(ner),
            "train": len(ner_train),
            "dev": len(ner_dev),
            "by_source": _count(e.source for e in ner),
        },
    }
    return Corpus(topic_train, topic_dev, sent_train, sent_dev, ner_train, ner_dev, stats)


def _count(items: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in items:  # type: ignore[attr-defined]
        out[k] = out.get(k, 0) + 1
    return out
