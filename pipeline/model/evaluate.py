"""Per-task metrics of a model on labelled files in the formats of `../shared/data`."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transformers import PreTrainedTokenizerBase

from pipeline.model.inference import run_features, word_tags
from pipeline.model.metrics import classification_scores, entity_scores
from pipeline.model.network import NewsModel
from pipeline.model.training import sources
from pipeline.model.training.examples import TaggedExample, TextExample
from pipeline.model.training.features import tagged_features, text_features

TASKS = ("topic", "sentiment", "ner")


def evaluate_texts(
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[TextExample],
    task: str,
    max_length: int,
    by_source: bool = False,
) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1, ECE (and n) of the `topic` or `sentiment` head under key `all`, and per
    `source` too if asked (one forward pass either way)."""
    names: tuple[str, ...] = getattr(model.labels, task)
    index = {n: i for i, n in enumerate(names)}
    known = [e for e in examples if e.label in index]
    feats = text_features(tokenizer, known, index, max_length)
    probs = run_features(model, feats, task, int(tokenizer.pad_token_id or 0))
    gold = np.array([f.label for f in feats], dtype=int)
    p = np.stack(probs) if probs else np.zeros((0, len(names)))
    out = {"all": classification_scores(gold.tolist(), p, len(names))}
    if by_source:
        sources = np.array([e.source for e in known])
        for s in sorted(set(sources.tolist())):
            sel = sources == s
            out[s] = classification_scores(gold[sel].tolist(), p[sel], len(names))
    return out


def evaluate_tagged(
    model: NewsModel, tokenizer: PreTrainedTokenizerBase, examples: Sequence[TaggedExample], max_length: int
) -> dict[str, float]:
    """Entity-level strict precision / recall / F1 over words (first sub-token decides)."""
    tags = model.labels.ner
    index = {n: i for i, n in enumerate(tags)}
    known = [
        TaggedExample(e.words, tuple(t if t in index else "O" for t in e.tags), e.source) for e in examples
    ]
    feats = tagged_features(tokenizer, known, index, max_length)
    probs = run_features(model, feats, "ner", int(tokenizer.pad_token_id or 0))
    pred = [word_tags(f, p, tags, len(e.words)) for f, p, e in zip(feats, probs, known, strict=False)]
    scores = entity_scores([list(e.tags) for e in known], pred)
    scores["n"] = float(len(known))
    return scores


def load_labelled(path: Path, task: str) -> list[TextExample] | list[TaggedExample]:
    """Read a labelled file in any of the training-data formats, for the given task."""
    if task == "ner":
        return sources.read_conll(path, path.stem)
    if path.suffix == ".json":
        return list(
            sources.load_semeval_file(path)
            if path.read_text(encoding="utf-8").lstrip().startswith("[")
            else sources.load_fiqa_file(path)
        )
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    if "Decisions" in header:
        return list(sources.load_sentfin_file(path))
    if task == "topic":
        return sources.load_topic_file(path)
    return sources.load_twitter_sentiment_file(path)


def evaluate_file(
    model: NewsModel, tokenizer: PreTrainedTokenizerBase, path: Path, task: str, max_length: int
) -> dict[str, float]:
    """Metrics of one task on one labelled file."""
    examples = load_labelled(path, task)
    if task == "ner":
        return evaluate_tagged(model, tokenizer, examples, max_length)  # type: ignore[arg-type]
    return evaluate_texts(model, tokenizer, examples, task, max_length)["all"]  # type: ignore[arg-type]


def format_table(task: str, path: Path, metrics: dict[str, float]) -> str:
    """A readable two-column table."""
    rows = [f"{task} on {path}"] + [
        f"  {k:<10} {v:.4f}" if k != "n" else f"  {k:<10} {int(v)}" for k, v in metrics.items()
    ]
    return "\n".join(rows)


def metrics_json(task: str, path: Path, metrics: dict[str, float]) -> str:
    return json.dumps({"task": task, "file": str(path), **metrics}, sort_keys=True)
