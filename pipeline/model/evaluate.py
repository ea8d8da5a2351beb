"""Per-task metrics of a model on labelled files in the formats of `../shared/data`."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from pipeline.model.heads import EntityHead
from pipeline.model.inference import EntityPass, entity_pass, run_features, word_tags
from pipeline.model.metrics import accuracy, classification_scores, entity_scores, macro_f1
from pipeline.model.network import NewsModel
from pipeline.model.training import sources
from pipeline.model.training.entities import load_sentfin_entities
from pipeline.model.training.examples import EntityExample, TaggedExample, TextExample
from pipeline.model.training.features import tagged_features, text_features

TASKS = ("topic", "sentiment", "ner", "entity_sentiment")


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


@torch.inference_mode()
def head_probs(head: EntityHead, found: EntityPass, batch_size: int = 256) -> np.ndarray:
    """Entity-head probabilities [N, S] over the pass's states; uniform where the span was truncated away."""
    head.eval()
    p = next(head.parameters())
    out = np.full((len(found.covered), head.out.out_features), 1.0 / head.out.out_features, dtype=np.float32)
    idx = np.flatnonzero(found.covered)
    for b in range(0, len(idx), batch_size):
        chunk = idx[b : b + batch_size].tolist()
        hidden, mask, spans = found.batch(chunk)
        logits = head(hidden.to(p.device, p.dtype), mask.to(p.device), spans.to(p.device))
        out[chunk] = torch.softmax(logits.float(), -1).cpu().numpy()
    return out


def entity_metrics(
    gold: Sequence[int], probs: np.ndarray, headline: np.ndarray, abstain_below: float
) -> dict[str, float]:
    """The entity head against the headline baseline (every entity gets its headline's predicted
    label). `coverage` = share with top probability >= `abstain_below`; `accuracy_covered` on those;
    accuracy, macro-F1 and ECE count every entity (the head's top class, abstained or not)."""
    k = probs.shape[1] if probs.ndim == 2 else 3
    scores = classification_scores(list(gold), probs, k)
    covered = probs.max(axis=1) >= abstain_below if len(gold) else np.zeros(0, dtype=bool)
    g = np.asarray(gold, dtype=int)
    base = headline.argmax(axis=1).tolist() if len(gold) else []
    return {
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "ece": scores["ece"],
        "coverage": float(covered.mean()) if len(gold) else 0.0,
        "accuracy_covered": accuracy(g[covered].tolist(), probs[covered].argmax(axis=1).tolist()),
        "abstain_below": float(abstain_below),
        "baseline_accuracy": accuracy(list(gold), base),
        "baseline_macro_f1": macro_f1(list(gold), base, k),
        "n": float(len(gold)),
    }


def evaluate_entities(
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[EntityExample],
    max_length: int,
    abstain_below: float,
) -> dict[str, float]:
    """Entity-sentiment metrics on gold entity spans (measures the head, not NER), one encoder pass
    per text, side by side with the headline baseline from the same pass."""
    if model.entity_head is None:
        raise ValueError("[M020] this checkpoint has no entity-sentiment head (trained before it existed)")
    index = {n: i for i, n in enumerate(model.labels.sentiment)}
    known = [e for e in examples if e.label in index]
    found = entity_pass(model, tokenizer, known, max_length)
    gold, probs = [index[e.label] for e in known], head_probs(model.entity_head, found)
    metrics = entity_metrics(gold, probs, found.headline, abstain_below)
    for name, mask in contrast_masks(known).items():
        if mask.any():
            sub = entity_metrics(
                np.asarray(gold)[mask].tolist(), probs[mask], found.headline[mask], abstain_below
            )
            metrics |= {f"{name}_{k}": sub[k] for k in ("accuracy", "macro_f1", "baseline_accuracy", "n")}
    return metrics


def contrast_masks(examples: Sequence[EntityExample]) -> dict[str, np.ndarray]:
    """Entities whose text holds entities of other gold labels: `mixed` (any two labels differ) and
    `opposite` (a positive and a negative one, "X rallies as Y slumps") - where the headline's label
    cannot be right for every entity."""
    labels: dict[str, set[str]] = {}
    for e in examples:
        labels.setdefault(e.text, set()).add(e.label)
    return {
        "mixed": np.array([len(labels[e.text]) > 1 for e in examples], dtype=bool),
        "opposite": np.array([{"positive", "negative"} <= labels[e.text] for e in examples], dtype=bool),
    }


def mixed_mask(examples: Sequence[EntityExample]) -> np.ndarray:
    """True for entities whose text has entities of different gold labels."""
    return contrast_masks(examples)["mixed"]


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
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    path: Path,
    task: str,
    max_length: int,
    abstain_below: float = 0.0,
) -> dict[str, float]:
    """Metrics of one task on one labelled file. `entity_sentiment` reads a SEntFiN-format CSV
    (`Title`, `Decisions` = `{'entity': 'label', ...}`); entities not found in the title are counted
    in `not_found` and left out."""
    if task == "entity_sentiment":
        loaded = load_sentfin_entities(path)
        metrics = evaluate_entities(model, tokenizer, loaded.examples, max_length, abstain_below)
        return {**metrics, "not_found": float(loaded.not_found)}
    examples = load_labelled(path, task)
    if task == "ner":
        return evaluate_tagged(model, tokenizer, examples, max_length)  # type: ignore[arg-type]
    return evaluate_texts(model, tokenizer, examples, task, max_length)["all"]  # type: ignore[arg-type]


def format_table(task: str, path: Path, metrics: dict[str, float]) -> str:
    """A readable two-column table."""
    rows = [f"{task} on {path}"] + [
        f"  {k:<17} {v:.4f}" if k not in ("n", "not_found") else f"  {k:<17} {int(v)}"
        for k, v in metrics.items()
    ]
    return "\n".join(rows)


def metrics_json(task: str, path: Path, metrics: dict[str, float]) -> str:
    return json.dumps({"task": task, "file": str(path), **metrics}, sort_keys=True)
