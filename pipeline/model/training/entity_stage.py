"""`finsent train --stage entity-head`: the entity-sentiment head on a frozen checkpoint.

The encoder and the three other heads stay exactly as they are (their tensors are copied
bit-for-bit, so their model-card figures stay valid). The encoder runs once over every training
text; the head then trains on the cached states (`inference.entity_pass`) in minutes on a
CPU. The abstain threshold is chosen on the SEntFiN dev split (`entities.entity_split`) and stored
in the checkpoint's spec; the card gains the entity figures, a check subset's figures (re-computed
by the shipped-model test) and the throughput cost of the fourth output.

The stage does not resume (`training.resume` serves the long stages): it runs about 3 minutes, and
`EntityHeadConfig.cache` keeps the one encoder pass, its costliest part, between runs.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pipeline.model.backbone import sha256_file
from pipeline.model.checkpoint import DELTA, WEIGHTS, LoadedModel, load_model
from pipeline.model.evaluate import entity_metrics, evaluate_file, head_probs
from pipeline.model.heads import EntityHead
from pipeline.model.inference import EntityPass, entity_pass
from pipeline.model.predictor import Predictor
from pipeline.model.throughput import outputs_cost
from pipeline.model.training.card import model_version, render_markdown
from pipeline.model.training.entities import entity_split
from pipeline.model.training.examples import EntityExample
from pipeline.model.training.losses import class_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntityHeadConfig:
    data_dir: Path
    init_from: Path  # a checkpoint dir (encoder + three heads); its entity head, if any, is replaced
    out_dir: Path
    seed: int = 13
    max_minutes: float = 20.0
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    dropout: float = 0.2
    label_smoothing: float = 0.05
    class_weight_power: float = 0.5
    mixed_repeat: int = 8  # examples from texts whose entities disagree, seen this many times per epoch
    target_accuracy: float = 0.9  # abstain rule: lowest threshold reaching this covered dev accuracy...
    min_coverage: float = 0.8  # ...without abstaining on more than 1 - min_coverage of dev entities
    threads: int = 1
    device: str | None = None
    check_file: Path | None = None  # SEntFiN-format subset whose figures the card records (for CI)
    cache: Path | None = None  # reuse / write the pooled encoder vectors here (same init + data only)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.name if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def choose_threshold(
    probs: np.ndarray, gold: np.ndarray, target_accuracy: float, min_coverage: float
) -> float:
    """The lowest top-probability threshold whose covered accuracy reaches `target_accuracy`; if none
    does while keeping `min_coverage`, the threshold that keeps exactly `min_coverage`."""
    conf = probs.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    correct = (probs.argmax(axis=1) == gold)[order].astype(float)
    cum_acc = np.cumsum(correct) / np.arange(1, len(order) + 1)
    floor = max(1, int(np.ceil(min_coverage * len(order))))
    for k in range(len(order), floor - 1, -1):  # widest coverage first
        if cum_acc[k - 1] >= target_accuracy and (k == len(order) or conf[order[k]] < conf[order[k - 1]]):
            return 0.0 if k == len(order) else float(conf[order[k - 1]])
    return float(conf[order[floor - 1]])


def choose_answer_threshold(probs: np.ndarray, fallback: np.ndarray, gold: np.ndarray) -> float:
    """The top-probability threshold that makes the product's answer most accurate: the entity head
    where its top probability >= threshold, else the fallback (the sentence holding the mention).
    Ties go to the lower threshold (the entity output answers more often)."""
    conf = probs.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    own = (probs.argmax(axis=1) == gold)[order].astype(float)
    other = (fallback.argmax(axis=1) == gold)[order].astype(float)
    # right answers when the k most confident entities answer themselves, k = 0..n
    right = np.concatenate([[0.0], np.cumsum(own)]) + other.sum() - np.concatenate([[0.0], np.cumsum(other)])
    best = max(
        (k for k in range(len(order) + 1) if k in (0, len(order)) or conf[order[k]] < conf[order[k - 1]]),
        key=lambda k: (right[k], k),
    )
    if best == 0:
        return float(np.nextafter(conf.max(), np.inf)) if len(conf) else 1.0
    return 0.0 if best == len(order) else float(conf[order[best - 1]])


def floor4(x: float) -> float:
    """Rounded down to 4 decimals, so the rounded threshold never abstains on the boundary item."""
    return math.floor(x * 1e4) / 1e4


def fit_head(
    cfg: EntityHeadConfig,
    train: EntityPass,
    train_gold: np.ndarray,
    dev: EntityPass,
    dev_gold: np.ndarray,
    deadline: float,
) -> tuple[EntityHead, list[dict[str, float]]]:
    """AdamW on the cached encoder states, linear decay; keeps the epoch with the best dev macro-F1."""
    torch.manual_seed(cfg.seed)
    hidden = train.states[0].shape[1]
    num_labels = dev.headline.shape[1]
    head = EntityHead(hidden, num_labels, dropout=cfg.dropout)
    usable = np.flatnonzero(train.covered)
    labels_of: dict[int, set[int]] = {}
    for k in usable:
        labels_of.setdefault(int(train.text_of[k]), set()).add(int(train_gold[k]))
    mixed = [k for k in usable if len(labels_of[int(train.text_of[k])]) > 1]
    usable = np.concatenate(
        [usable, np.repeat(np.array(mixed, dtype=np.int64), max(0, cfg.mixed_repeat - 1))]
    )
    gold = torch.from_numpy(train_gold)
    weights = class_weights(gold[usable].tolist(), num_labels, cfg.class_weight_power)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=cfg.label_smoothing)
    optim = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(usable) + cfg.batch_size - 1) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: max(0.0, 1 - s / total))
    rng = np.random.default_rng(cfg.seed)
    best, best_state, history = -1.0, {k: v.clone() for k, v in head.state_dict().items()}, []
    for epoch in range(1, cfg.epochs + 1):
        head.train()
        perm = rng.permutation(usable)
        for b in range(0, len(perm), cfg.batch_size):
            idx = perm[b : b + cfg.batch_size].tolist()
            loss = loss_fn(head(*train.batch(idx)), gold[idx])
            loss.backward()
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
        m = entity_metrics(dev_gold.tolist(), head_probs(head, dev), dev.headline, 0.0)
        history.append(
            {"epoch": epoch, "dev_accuracy": round(m["accuracy"], 4), "dev_macro_f1": round(m["macro_f1"], 4)}
        )
        log.info("entity head epoch %d: dev accuracy %.4f macro-F1 %.4f", epoch, m["accuracy"], m["macro_f1"])
        if m["macro_f1"] > best:
            best, best_state = m["macro_f1"], {k: v.clone() for k, v in head.state_dict().items()}
        if time.monotonic() > deadline:
            break
    head.load_state_dict(best_state)
    return head.eval(), history


def save_with_head(init_from: Path, out_dir: Path, head: EntityHead, abstain_below: float) -> None:
    """Copy the checkpoint (tensors bit-for-bit) and add the head's tensors (fp16) and the threshold."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if init_from.resolve() != out_dir.resolve():
        for name in (WEIGHTS, DELTA, "labels.json", "model_card.json"):
            if (init_from / name).is_file():
                shutil.copy2(init_from / name, out_dir / name)
    state = {k: v for k, v in load_file(str(init_from / WEIGHTS)).items() if not k.startswith("entity_head.")}
    state |= {
        f"entity_head.{k}": v.detach().to(torch.float16).contiguous().cpu()
        for k, v in head.state_dict().items()
    }
    save_file(state, str(out_dir / WEIGHTS))
    spec = json.loads((init_from / "spec.json").read_text())
    (out_dir / "spec.json").write_text(
        json.dumps({**spec, "entity_abstain_below": abstain_below}, indent=2) + "\n"
    )


def train_entity_head(cfg: EntityHeadConfig) -> dict[str, Any]:
    """Run the stage; returns the card's `entity_sentiment` section."""
    t_start = time.monotonic()
    deadline = t_start + cfg.max_minutes * 60 - 120  # leave time for the final evaluation
    torch.set_num_threads(cfg.threads)
    loaded = load_model(cfg.init_from)
    model = loaded.model.to(cfg.device or "cpu")
    index = {n: i for i, n in enumerate(model.labels.sentiment)}
    split = entity_split(cfg.data_dir, cfg.seed)
    log.info("entity split %s", split.stats)
    max_length = loaded.spec.max_length
    if cfg.cache is not None and cfg.cache.is_file():
        train, dev = torch.load(cfg.cache, weights_only=False)
    else:
        train = entity_pass(model, loaded.tokenizer, split.train, max_length)
        dev = entity_pass(model, loaded.tokenizer, split.dev, max_length)
        if cfg.cache is not None:
            torch.save((train, dev), cfg.cache)
    cache_minutes = (time.monotonic() - t_start) / 60
    train_gold = np.array([index[e.label] for e in split.train])
    dev_gold = np.array([index[e.label] for e in split.dev])
    head, history = fit_head(cfg, train, train_gold, dev, dev_gold, deadline)
    head16 = EntityHead(train.states[0].shape[1], len(index)).eval()
    head16.load_state_dict({k: v.half().float() for k, v in head.state_dict().items()})  # as stored
    threshold = floor4(
        choose_threshold(head_probs(head16, dev), dev_gold, cfg.target_accuracy, cfg.min_coverage)
    )
    parent = (
        json.loads((cfg.init_from / "model_card.json").read_text())
        if (cfg.init_from / "model_card.json").is_file()
        else {}
    )
    save_with_head(cfg.init_from, cfg.out_dir, head, threshold)

    reloaded = load_model(cfg.out_dir)
    final = entity_metrics(
        dev_gold.tolist(),
        head_probs(reloaded.model.entity_head, dev),
        dev.headline,
        threshold,  # type: ignore[arg-type]
    )
    section: dict[str, Any] = {
        "task": "sentiment of each entity span (gold spans in evaluation), labels as the sentiment head",
        "head": "the span's mean token state queries the text's token states (scaled dot product plus a "
        "learned bias per token distance to the span, clipped at 8); [span, attended context, sentence "
        "mean] -> Linear(3H, H) -> GELU -> Linear(H, 3); fp16 in weights.safetensors",
        "abstain_rule": abstain_rule(threshold, cfg.target_accuracy, cfg.min_coverage),
        "split": split.stats,
        "dev": final,
        "stage": {
            **cfg.to_dict(),
            "parent_model_version": parent.get("model_version"),
            "cache_minutes": round(cache_minutes, 1),
            "wall_minutes": round((time.monotonic() - t_start) / 60, 1),
            "history": history,
        },
    }
    if cfg.check_file is not None:
        section["check_subset"] = check_subset(reloaded, cfg.check_file, threshold)
    section["throughput"] = fourth_output_cost(reloaded, split.dev, cfg.threads)
    write_entity_card(cfg.out_dir, parent, section)
    return section


def answer_rule(threshold: float, dev: str) -> str:
    """The card's words for an abstain threshold chosen by `choose_answer_threshold`."""
    return (
        f"the entity output answers when its top probability >= {threshold}, else the sentence holding the "
        f"mention does (threshold that makes that answer most accurate on {dev})"
    )


def abstain_rule(threshold: float, target_accuracy: float, min_coverage: float) -> str:
    """The card's words for the abstain threshold and how it was chosen (`choose_threshold`)."""
    return (
        f"entity sentiment is None when its top probability < {threshold} (lowest threshold "
        f"reaching {target_accuracy} covered dev accuracy, coverage kept >= {min_coverage})"
    )


def check_subset(loaded: LoadedModel, path: Path, threshold: float) -> dict[str, Any]:
    """The CI check subset's entity figures, as the card records them and the shipped-model test
    re-computes them."""
    metrics = evaluate_file(
        loaded.model, loaded.tokenizer, path, "entity_sentiment", loaded.spec.max_length, threshold
    )
    return {"file": path.name, "sha256": sha256_file(path), "metrics": metrics}


def fourth_output_cost(loaded: LoadedModel, dev: list[EntityExample], threads: int) -> dict[str, Any]:
    """Predict throughput with and without entity sentiment on 512 dev headlines (the card's figure)."""
    predictor = Predictor(loaded, device="cpu")
    return {
        **outputs_cost(predictor, [e.text for e in dev[:512]], rounds=7).as_dict(),
        "threads": threads,
        "note": "Predictor.predict on 512 dev headlines, fp32 CPU, same texts and batches, best of 7 interleaved rounds",
    }


def write_entity_card(out_dir: Path, parent: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    """The parent's card with the new version id and the `entity_sentiment` section."""
    card = {**parent, "model_version": model_version(out_dir), "entity_sentiment": section}
    card["adapter"] = {
        **card.get("adapter", {}),
        "files_sha256": {f: sha256_file(out_dir / f) for f in (WEIGHTS, DELTA) if (out_dir / f).is_file()},
    }
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / "model_card.md").write_text(render_markdown(card))
    return card
