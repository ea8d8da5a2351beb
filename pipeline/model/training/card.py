"""The model card: JSON for tools, Markdown for people, written beside the weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.model.backbone import sha256_file
from pipeline.model.checkpoint import DELTA, WEIGHTS, CheckpointSpec
from pipeline.model.labels import LabelMaps
from pipeline.model.training.config import TrainConfig
from pipeline.model.training.sources import SCORE_THRESHOLD

TRUNCATION = (
    "Title + lead: links and control characters are blanked (offsets preserved), the first 4,000 "
    "characters are tokenized and cut at max_length word pieces; the rest of a long article is not read."
)


def adapter_info(out_dir: Path, spec: CheckpointSpec) -> dict[str, Any]:
    """What the checkpoint stores on top of the backbone, with the SHA-256 of each file."""
    lora = spec.to_dict()["lora"]
    files = {f: sha256_file(out_dir / f) for f in (WEIGHTS, DELTA) if (out_dir / f).is_file()}
    if spec.lora.r:
        kind = (
            f"LoRA r={lora['r']} alpha={lora['alpha']} on {lora['target_modules']} + LayerNorms + heads, "
            "fp16, merged into the encoder weights at load"
        )
    else:
        kind = (
            "full fine-tune of every encoder weight except the (frozen) word embeddings, stored as an fp16 "
            "delta from the pinned backbone and added to it at load; heads and casing embeddings fp16"
        )
    return {"kind": kind, "files_sha256": files, "dtype": "float16", "lora": lora}


def model_version(out_dir: Path) -> str:
    """`minilm-mt-<12 hex of the SHA-256 over the weight files>`: changes exactly when the weights do."""
    digest = "".join(sha256_file(out_dir / f) for f in (WEIGHTS, DELTA) if (out_dir / f).is_file())
    return f"minilm-mt-{hashlib.sha256(digest.encode()).hexdigest()[:12]}"


def write_card(
    out_dir: Path,
    *,
    cfg: TrainConfig,
    spec: CheckpointSpec,
    labels: LabelMaps,
    files: dict[str, str],
    corpus_stats: dict[str, Any],
    dev: dict[str, dict[str, float]],
    ner_testa: dict[str, float],
    int8: dict[str, Any],
    history: list[dict[str, Any]],
    best_step: int,
    steps_run: int,
    minutes: float,
    device: str,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "model_version": model_version(out_dir),
        "backbone": {
            "package": spec.backbone_package,
            "path": spec.backbone_path,
            "weights_sha256": spec.backbone_sha256,
        },
        "adapter": adapter_info(out_dir, spec),
        "training_files": {"data_dir": "../shared/data", "sha256": files},
        "hyper_parameters": cfg.to_dict() | {"data_dir": "../shared/data", "out_dir": str(cfg.out_dir.name)},
        "sentiment_score_buckets": {
            "negative": f"<= -{SCORE_THRESHOLD}",
            "positive": f">= {SCORE_THRESHOLD}",
        },
        "corpus": corpus_stats,
        "labels": labels.to_dict(),
        "dev_metrics": dev,
        "ner_eng_testa": ner_testa,
        "int8_cpu": int8,
        "truncation": TRUNCATION,
        "max_length": spec.max_length,
        "training": {
            "best_step": best_step,
            "steps_run": steps_run,
            "wall_minutes": round(minutes, 1),
            "device": device,
            "history": history,
        },
    }
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / "model_card.md").write_text(render_markdown(card))
    return card


def _row(name: str, m: dict[str, float], keys: tuple[str, ...]) -> str:
    return (
        f"| {name} | "
        + " | ".join(f"{m[k]:.4f}" if k in m else "" for k in keys)
        + f" | {int(m.get('n', 0))} |"
    )


def render_markdown(card: dict[str, Any]) -> str:
    dev = card["dev_metrics"]
    hp = card["hyper_parameters"]
    lines = [
        f"# finsent news model `{card['model_version']}`",
        "",
        "One encoder pass, three heads: topic (20 classes), sentiment (negative/neutral/positive), "
        "NER (BIO over PER/ORG/LOC/MISC, with a casing feature from the original text).",
        "",
        f"- Backbone: `{card['backbone']['package'] or card['backbone']['path']}`, weights SHA-256 "
        f"`{card['backbone']['weights_sha256']}` (verified at load).",
        f"- Weights: {card['adapter']['kind']}",
        f"- Truncation: {card['truncation']} (max_length {card['max_length']}).",
        "- Sentiment scores (SemEval-2017, FiQA) bucketed: negative <= -0.1, positive >= 0.1, else neutral.",
        f"- Trained {card['training']['steps_run']} steps (best {card['training']['best_step']}) in "
        f"{card['training']['wall_minutes']} min on {card['training']['device']}; seed {hp['seed']}.",
        "",
        "## Dev-split metrics (own stratified split after link-stripped de-duplication)",
        "",
        "| task | accuracy | macro_f1 | ece | n |",
        "|---|---|---|---|---|",
    ]
    for k in sorted(dev):
        if k != "ner":
            lines.append(_row(k, dev[k], ("accuracy", "macro_f1", "ece")))
    lines += [
        "",
        "| NER | precision | recall | f1 | n |",
        "|---|---|---|---|---|",
        _row("dev (CoNLL train slice)", dev["ner"], ("precision", "recall", "f1")),
        _row("CoNLL eng.testa", card["ner_eng_testa"], ("precision", "recall", "f1")),
        "",
        "## int8 dynamic quantization (CPU)",
        "",
        "```json",
        json.dumps(card["int8_cpu"], indent=2),
        "```",
        "",
        "## Hyper-parameters",
        "",
        "```json",
        json.dumps(hp, indent=2),
        "```",
        "",
        "## Training files (SHA-256)",
        "",
        *(f"- `{k}` `{v}`" for k, v in card["training_files"]["sha256"].items()),
        "",
        "## Labels",
        "",
        *(f"- {task}: {', '.join(names)}" for task, names in card["labels"].items()),
        "",
    ]
    return "\n".join(lines)
