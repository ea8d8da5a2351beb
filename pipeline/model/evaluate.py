"""Per-task metrics of a model on labelled files in the formats of `../shared/data`."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SentenceFallback:
    """The sentence holding each example's mention: its sentiment probabilities [N, S] (the text's
    where it has none), whether it has them (`has` [N]), and whether the mention itself was read
    (`visible` [N]: else neither the entity head nor the sentence answers, as in the predictor)."""

    probs: np.ndarray
    has: np.ndarray
    visible: np.ndarray

    def select(self, mask: np.ndarray) -> SentenceFallback:
        return SentenceFallback(self.probs[mask], self.has[mask], self.visible[mask])


@torch.inference_mode()
def sentence_probs(model: NewsModel, found: EntityPass, batch_size: int = 256) -> SentenceFallback:
    """The sentence fallback as the predictor computes it: the sentiment head on the sentence's
    tokens from the pass's states, the text's own probabilities where the text is one sentence;
    none where the mention or its sentence lies past truncation."""
    out = found.headline.copy()
    has = found.covered & (found.single | (found.sentences[:, 0] >= 0))
    p = next(model.parameters())
    idx = np.flatnonzero(has & ~found.single)
    for b in range(0, len(idx), batch_size):
        chunk = idx[b : b + batch_size].tolist()
        hidden, _, spans = found.batch(chunk, found.sentences)
        logits = model.sentence_logits(hidden.to(p.device, p.dtype), spans.to(p.device))
        out[chunk] = torch.softmax(logits.float(), -1).cpu().numpy()
    return SentenceFallback(out, has, found.covered)


def entity_metrics(
    gold: Sequence[int],
    probs: np.ndarray,
    headline: np.ndarray,
    abstain_below: float,
    sentence: SentenceFallback | None = None,
) -> dict[str, float]:
    """The entity head against the headline baseline (every entity gets its text's predicted label).
    `coverage` = share with top probability >= `abstain_below`; `accuracy_covered` on those;
    accuracy, macro-F1 and ECE count every entity (the head's top class, abstained or not).

    With `sentence` (`sentence_probs`), the answer the product gives: the entity head's label where it
    does not abstain, else the sentence's holding the mention (`answered`: share with either;
    `sentence_share`: by the sentence), else the text's; `answer_accuracy` / `answer_macro_f1` over
    every entity, `answer_accuracy_answered` over the answered ones, and `sentence_accuracy`: the
    sentence's label for every entity (the text's where it has none)."""
    k = probs.shape[1] if probs.ndim == 2 else 3
    scores = classification_scores(list(gold), probs, k)
    covered = probs.max(axis=1) >= abstain_below if len(gold) else np.zeros(0, dtype=bool)
    g = np.asarray(gold, dtype=int)
    base = headline.argmax(axis=1).tolist() if len(gold) else []
    extra = {} if sentence is None else answer_metrics(g, probs, covered, sentence, k)
    return extra | {
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


def answer_metrics(
    gold: np.ndarray, probs: np.ndarray, covered: np.ndarray, sentence: SentenceFallback, k: int
) -> dict[str, float]:
    """`entity_metrics`' figures of the answer: entity head where it does not abstain on a mention it
    read, else the sentence, else the text (whose label `sentence.probs` holds where it has none)."""
    s_probs, has = sentence.probs, sentence.has
    own = covered & sentence.visible
    by_sentence = ~own & has
    answer = np.where(own, probs.argmax(axis=1), s_probs.argmax(axis=1)) if len(gold) else np.zeros(0, int)
    answered = own | has
    return {
        "answered": float(answered.mean()) if len(gold) else 0.0,
        "sentence_share": float(by_sentence.mean()) if len(gold) else 0.0,
        "answer_accuracy": accuracy(gold.tolist(), answer.tolist()),
        "answer_macro_f1": macro_f1(gold.tolist(), answer.tolist(), k),
        "answer_accuracy_answered": accuracy(gold[answered].tolist(), answer[answered].tolist()),
        "sentence_accuracy": accuracy(gold.tolist(), s_probs.argmax(axis=1).tolist() if len(gold) else []),
    }


def evaluate_entities(
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[EntityExample],
    max_length: int,
    abstain_below: float,
) -> dict[str, float]:
    """Entity-sentiment metrics on gold entity spans (measures the head, not NER), one encoder pass
    per text, side by side with the text-label baseline and the product's answer (entity head, else
    the sentence holding the mention: `entity_metrics`) from the same pass. Texts may be headlines
    or multi-sentence paragraphs."""
    if model.entity_head is None:
        raise ValueError("[M020] this checkpoint has no entity-sentiment head (trained before it existed)")
    index = {n: i for i, n in enumerate(model.labels.sentiment)}
    known = [e for e in examples if e.label in index]
    found = entity_pass(model, tokenizer, known, max_length)
    gold, probs = [index[e.label] for e in known], head_probs(model.entity_head, found)
    fallback = sentence_probs(model, found)
    metrics = entity_metrics(gold, probs, found.headline, abstain_below, fallback)
    keys = (
        "accuracy",
        "macro_f1",
        "baseline_accuracy",
        "answered",
        "answer_accuracy",
        "sentence_accuracy",
        "n",
    )
    for name, mask in contrast_masks(known).items():
        if mask.any():
            g = np.asarray(gold)[mask].tolist()
            sub = entity_metrics(g, probs[mask], found.headline[mask], abstain_below, fallback.select(mask))
            metrics |= {f"{name}_{k}": sub[k] for k in keys}
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
    """Metrics of one task on one labelled file. `entity_sentiment` reads a CSV of char spans
    (`text`, `start`, `end`, `label`: one row per entity, e.g. the paragraph dev file) or a
    SEntFiN-format one (`Title`, `Decisions` = `{'entity': 'label', ...}`; entities not found in the
    title are counted in `not_found` and left out)."""
    if task == "entity_sentiment" and {"text", "start", "end", "label"} <= set(_header(path)):
        spans = load_span_entities(path)
        return evaluate_entities(model, tokenizer, spans, max_length, abstain_below) | {"not_found": 0.0}
    if task == "entity_sentiment":
        loaded = load_sentfin_entities(path)
        metrics = evaluate_entities(model, tokenizer, loaded.examples, max_length, abstain_below)
        return {**metrics, "not_found": float(loaded.not_found)}
    examples = load_labelled(path, task)
    if task == "ner":
        return evaluate_tagged(model, tokenizer, examples, max_length)  # type: ignore[arg-type]
    return evaluate_texts(model, tokenizer, examples, task, max_length)["all"]  # type: ignore[arg-type]


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f), [])


def load_span_entities(path: Path) -> list[EntityExample]:
    """Rows `text`, `start`, `end`, `label` (and optional `source`) -> entity examples."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            EntityExample(r["text"], int(r["start"]), int(r["end"]), r["label"], r.get("source") or path.stem)
            for r in csv.DictReader(f)
        ]


def format_table(task: str, path: Path, metrics: dict[str, float]) -> str:
    """A readable two-column table."""
    rows = [f"{task} on {path}"] + [
        f"  {k:<17} {v:.4f}" if k not in ("n", "not_found") else f"  {k:<17} {int(v)}"
        for k, v in metrics.items()
    ]
    return "\n".join(rows)


def metrics_json(task: str, path: Path, metrics: dict[str, float]) -> str:
    return json.dumps({"task": task, "file": str(path), **metrics}, sort_keys=True)
