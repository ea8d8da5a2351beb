"""`finsent train --stage promote`: make a `--stage continue` result a shippable checkpoint.

The continued stage changes the encoder, so every figure of the parent's card is stale. This stage
re-chooses the entity abstain threshold on the entity dev split (same rule as the entity-head
stage), re-computes every figure from the checkpoint as saved (dev per source, CoNLL eng.testa,
int8, entity sentiment with its contrast subsets, the CI check subset, the fourth output's cost)
and writes the card: the parent's, with these figures, the new version id and a `continued` section
(the stage's config, steps and its dev report, and the parent's version).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.model.backbone import sha256_file
from pipeline.model.checkpoint import CheckpointSpec, load_model
from pipeline.model.evaluate import evaluate_entities, head_probs, sentence_probs
from pipeline.model.inference import entity_pass
from pipeline.model.training.card import adapter_info, model_version, render_markdown
from pipeline.model.training.config import TrainConfig
from pipeline.model.training.continued import formal_dev
from pipeline.model.training.data import build_corpus
from pipeline.model.training.entities import entity_split
from pipeline.model.training.entity_stage import (
    answer_rule,
    check_subset,
    choose_answer_threshold,
    floor4,
    fourth_output_cost,
)
from pipeline.model.training.formal import FORMAL_FILES, load_formal
from pipeline.model.training.formal_figures import formal_figures
from pipeline.model.training.prior import apply_neutral_offset, choose_neutral_offset
from pipeline.model.training.trainer import final_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromoteConfig:
    data_dir: Path
    checkpoint: Path  # the `--stage continue` output dir (holds continued.json); the card is written here
    parent_card: Path  # the model_card.json of the checkpoint the stage started from
    seed: int = 13
    threads: int = 1
    check_file: Path | None = None


def entity_threshold(cfg: PromoteConfig, dev: list[Any]) -> float:
    """The abstain threshold that makes the product's answer (the entity head, else the sentence
    holding the mention) most accurate on `dev`, from this checkpoint's probabilities."""
    loaded = load_model(cfg.checkpoint)
    index = {n: i for i, n in enumerate(loaded.model.labels.sentiment)}
    found = entity_pass(loaded.model, loaded.tokenizer, dev, loaded.spec.max_length)
    gold = np.array([index[e.label] for e in dev])
    probs = head_probs(loaded.model.entity_head, found)  # type: ignore[arg-type]
    fallback = sentence_probs(loaded.model, found)
    seen = fallback.visible
    return floor4(choose_answer_threshold(probs[seen], fallback.probs[seen], gold[seen]))


def promote(cfg: PromoteConfig) -> dict[str, Any]:
    """Re-compute the card of `cfg.checkpoint`; returns it."""
    t_start = time.monotonic()
    torch.set_num_threads(cfg.threads)
    parent = json.loads(cfg.parent_card.read_text())
    report = json.loads((cfg.checkpoint / "continued.json").read_text())
    split = entity_split(cfg.data_dir, cfg.seed)
    corpus = build_corpus(cfg.data_dir, cfg.seed, TrainConfig.dev_fraction, TrainConfig.ner_dev_fraction)
    formal_data = load_formal(cfg.data_dir, cfg.seed) if report["config"].get("formal") else None
    prior: dict[str, Any] = {}
    if formal_data is not None:  # formal news is nearly all polar: undo that prior on the sentiment dev split
        correction = choose_neutral_offset(cfg.checkpoint, corpus.sentiment_dev)
        labels = json.loads((cfg.checkpoint / "labels.json").read_text())
        apply_neutral_offset(
            cfg.checkpoint, labels["sentiment"].index("neutral"), correction["neutral_logit_offset"]
        )
        prior["sentiment_prior_correction"] = correction
    tuned_on = "the SEntFiN entity dev split"
    threshold_dev = list(split.dev)
    if formal_data is not None:
        threshold_dev += formal_dev(formal_data, cfg.seed)[1]
        tuned_on += " and the formal-news dev paragraphs"
    threshold = entity_threshold(cfg, threshold_dev)
    spec_path = cfg.checkpoint / "spec.json"
    spec_dict = json.loads(spec_path.read_text()) | {"entity_abstain_below": threshold}
    spec_path.write_text(json.dumps(spec_dict, indent=2) + "\n")

    loaded = load_model(cfg.checkpoint)
    max_length = loaded.spec.max_length
    tcfg = TrainConfig(data_dir=cfg.data_dir, out_dir=cfg.checkpoint, seed=cfg.seed, max_length=max_length)
    final = final_metrics(tcfg, corpus)
    model, tokenizer = loaded.model, loaded.tokenizer
    ent = dict(parent["entity_sentiment"])
    ent["dev"] = evaluate_entities(model, tokenizer, split.dev, max_length, threshold)
    ent["abstain_rule"] = answer_rule(threshold, tuned_on)
    if cfg.check_file is not None:
        ent["check_subset"] = check_subset(loaded, cfg.check_file, threshold)
    ent["throughput"] = fourth_output_cost(loaded, split.dev, cfg.threads)
    formal: dict[str, Any] = {}
    files = dict(parent["training_files"]["sha256"])
    if formal_data is not None:
        formal["formal_news"] = formal_figures(
            model, tokenizer, formal_data, cfg.data_dir, cfg.seed, max_length, threshold
        )
        files |= {rel: sha256_file(cfg.data_dir / rel) for rel in FORMAL_FILES}
    card = {
        **parent,
        "model_version": model_version(cfg.checkpoint),
        "adapter": adapter_info(cfg.checkpoint, CheckpointSpec.from_dict(spec_dict)),
        "dev_metrics": final["dev"],
        "ner_eng_testa": final["ner_testa"],
        "int8_cpu": final["int8"],
        "entity_sentiment": ent,
        **formal,
        **prior,
        "training_files": {"data_dir": "../shared/data", "sha256": files},
        "max_length": max_length,
        "continued": {
            "parent_model_version": parent["model_version"],
            "config": _portable(report["config"]),
            "steps": report["steps"],
            "wall_minutes": report["minutes"],
            "earlier_runs": _earlier_runs(Path(report["config"]["init_from"])),
            "weights": "the EMA of the weights (the raw weights' dev figures are in model_card.json, continued.stage_dev)",
            "stage_dev": {"raw": _headline(report["raw"]), "ema": _headline(report["ema"])},
            "promote_minutes": round((time.monotonic() - t_start) / 60, 1),
        },
    }
    (cfg.checkpoint / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    (cfg.checkpoint / "model_card.md").write_text(render_markdown(card))
    return card


def _portable(config: dict[str, Any]) -> dict[str, Any]:
    """A stage config with directory names instead of this machine's paths."""
    return (
        config
        | {k: Path(config[k]).name for k in ("init_from", "out_dir") if config.get(k)}
        | {"data_dir": "../shared/data"}
    )


def _earlier_runs(init_from: Path) -> list[dict[str, Any]]:
    """The continued runs this one started from (a chain of `--stage continue` runs), oldest first."""
    runs: list[dict[str, Any]] = []
    while (init_from / "continued.json").is_file() and len(runs) < 10:
        report = json.loads((init_from / "continued.json").read_text())
        runs.insert(
            0, {"config": _portable(report["config"]), "steps": report["steps"], "minutes": report["minutes"]}
        )
        init_from = Path(report["config"]["init_from"])
    return runs


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    """The figures the ship rule compares, from a continued.json report."""
    ent = metrics["entity_sentiment"]
    return {
        "topic_accuracy": metrics["topic"]["accuracy"],
        "sentiment_accuracy": metrics["sentiment"]["accuracy"],
        "ner_dev_f1": metrics["ner"]["f1"],
        "entity_accuracy": ent["accuracy"],
        **{k: ent[k] for k in ("mixed_accuracy", "opposite_accuracy") if k in ent},
        **(
            {"formal_sentence_accuracy": metrics["formal_sentiment"]["accuracy"]}
            if "formal_sentiment" in metrics
            else {}
        ),
        **(
            {
                "formal_paragraph_entity_answer_accuracy": metrics["formal_paragraph_entity"].get(
                    "answer_accuracy", 0.0
                )
            }
            if "formal_paragraph_entity" in metrics
            else {}
        ),
    }
