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
from pipeline.model.training.licences import licence
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
        "One encoder pass, "
        + ("four" if "entity_sentiment" in card else "three")
        + " heads: topic (20 classes), sentiment (negative/neutral/positive), "
        "NER (BIO over PER/ORG/LOC/MISC, with a casing feature from the original text)"
        + (
            ", and sentiment per entity (the NER spans, pooled from the same encoder states)."
            if "entity_sentiment" in card
            else "."
        ),
        "",
        f"- Backbone: `{card['backbone']['package'] or card['backbone']['path']}`, weights SHA-256 "
        f"`{card['backbone']['weights_sha256']}` (verified at load).",
        f"- Weights: {card['adapter']['kind']}",
        f"- Truncation: {card['truncation']} (max_length {card['max_length']}).",
        "- Sentiment scores (SemEval-2017, FiQA) bucketed: negative <= -0.1, positive >= 0.1, else neutral.",
        f"- Trained {card['training']['steps_run']} steps (best {card['training']['best_step']}) in "
        f"{card['training']['wall_minutes']} min on {card['training']['device']}; seed {hp['seed']}.",
        *continued_markdown(card),
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
        *entity_markdown(card),
        *formal_markdown(card),
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
        "## Training files (licence, SHA-256)",
        "",
        "Some sets are research-use only (their licence says so, or none is stated): a checkpoint trained "
        "on them inherits that restriction.",
        "",
        *(f"- `{k}`: {licence(k)}; `{v}`" for k, v in card["training_files"]["sha256"].items()),
        "",
        "## Labels",
        "",
        *(f"- {task}: {', '.join(names)}" for task, names in card["labels"].items()),
        "",
    ]
    return "\n".join(lines)


def entity_markdown(card: dict[str, Any]) -> list[str]:
    """The entity-sentiment section: head vs headline baseline, abstain rule, ECE per head, cost."""
    ent = card.get("entity_sentiment")
    if not ent:
        return []
    d, dev = ent["dev"], card["dev_metrics"]
    split, cost = ent["split"], ent.get("throughput", {})
    lines = [
        "## Entity sentiment (fourth output)",
        "",
        f"Head: {ent['head']}. Trained by `finsent train --stage entity-head` on the frozen checkpoint "
        f"`{ent['stage'].get('parent_model_version')}`"
        + (
            ", then fine-tuned with the encoder and the other heads (`--stage continue`, above)."
            if "continued" in card
            else " (encoder and the three other heads unchanged, so their figures above and below are "
            "those of that checkpoint)."
        ),
        "",
        f"Dev: {split['dev']} entities in {split['dev_headlines']} SEntFiN headlines held out whole, none "
        "of them in the shipped model's sentiment train split; scored on the gold entity span. Train: "
        + ", ".join(f"{k} {v}" for k, v in split["by_source"].items())
        + " entities (not found in their text and skipped: "
        + ", ".join(f"{k} {v}" for k, v in split["not_found"].items())
        + ").",
        "",
        "| SEntFiN entity dev | accuracy | macro_f1 | ece | n |",
        "|---|---|---|---|---|",
        _row("entity head", d, ("accuracy", "macro_f1", "ece")),
        _row(
            "headline label for every entity (baseline)",
            {"accuracy": d["baseline_accuracy"], "macro_f1": d["baseline_macro_f1"], "n": d["n"]},
            ("accuracy", "macro_f1", "ece"),
        ),
        *contrast_rows(d),
        "",
        f"Abstain rule: {ent['abstain_rule']}. Coverage {d['coverage']:.4f}, accuracy on covered "
        f"{d['accuracy_covered']:.4f}.",
        "",
        "| head | ECE (15 bins, top class) |",
        "|---|---|",
        f"| topic | {dev['topic']['ece']:.4f} |",
        f"| sentiment | {dev['sentiment']['ece']:.4f} |",
        f"| entity sentiment | {d['ece']:.4f} |",
        "| NER | not measured (token tags; see F1) |",
        "",
    ]
    if cost:
        lines += [
            f"Cost of the fourth output ({cost['note']}, {cost['threads']} thread(s), n {int(cost['n'])}): "
            f"{cost['three_outputs_items_per_s']} items/s with three outputs, "
            f"{cost['four_outputs_items_per_s']} with four ({100 * cost['slowdown']:.1f} % slower).",
            "",
        ]
    check = ent.get("check_subset")
    if check:
        lines += [
            f"CI check subset `tests/data/{check['file']}` (SHA-256 `{check['sha256'][:12]}…`): "
            f"accuracy {check['metrics']['accuracy']:.4f}, macro-F1 {check['metrics']['macro_f1']:.4f}, "
            f"n {int(check['metrics']['n'])}; re-computed from the checkpoint by the shipped-model test.",
            "",
        ]
    return lines


def contrast_rows(d: dict[str, float]) -> list[str]:
    """Rows for the entities of headlines whose entities disagree (`mixed`) or pull opposite ways."""
    rows = []
    for name, what in (
        ("mixed", "whose entities disagree"),
        ("opposite", "with a positive and a negative entity"),
    ):
        if f"{name}_n" in d:
            n = d[f"{name}_n"]
            rows.append(
                _row(
                    f"headlines {what}: entity head",
                    {"accuracy": d[f"{name}_accuracy"], "macro_f1": d[f"{name}_macro_f1"], "n": n},
                    ("accuracy", "macro_f1", "ece"),
                )
            )
            rows.append(
                _row(
                    f"headlines {what}: baseline",
                    {"accuracy": d[f"{name}_baseline_accuracy"], "n": n},
                    ("accuracy", "macro_f1", "ece"),
                )
            )
    return rows


def continued_markdown(card: dict[str, Any]) -> list[str]:
    """The line saying the checkpoint was fine-tuned further, and how."""
    c = card.get("continued")
    if not c:
        return []
    runs = [
        *c.get("earlier_runs", []),
        {"config": c["config"], "steps": c["steps"], "minutes": c["wall_minutes"]},
    ]
    described = "; then ".join(_continued_run(r) for r in runs)
    return [
        f"- Then fine-tuned further from `{c['parent_model_version']}` by `finsent train --stage continue`: "
        f"{described}. Saved: {c['weights']}. Every figure below is re-computed from this checkpoint "
        "(`--stage promote`).",
    ]


def _continued_run(run: dict[str, Any]) -> str:
    cfg = run["config"]
    contrast = f", {cfg['contrast_pairs']} synthetic contrast pairs" if cfg.get("contrast_pairs") else ""
    formal = (
        f", formal news (SENTiVENT, SentiFM, NewsMTSC) sentences x{cfg.get('formal_repeat', 1)}, their targets "
        "in sentences and 2-6-sentence paragraphs, and each paragraph sentence through the sentiment head"
        if cfg.get("formal")
        else ""
    )
    length = f", max_length {cfg['max_length']}" if cfg.get("max_length") else ""
    return (
        f"{run['steps']} steps in {run['minutes']} min (encoder LR {cfg['lr']}, layer-wise decay "
        f"{cfg.get('layer_decay', 1.0)}, heads {cfg['head_lr']}, label smoothing {cfg['label_smoothing']}, "
        f"mixed-label entity headlines x{cfg.get('mixed_repeat', 1)}{contrast}{formal}{length}, "
        f"EMA {cfg['ema_decay']})"
    )


def formal_markdown(card: dict[str, Any]) -> list[str]:
    """Formal news: sentence sentiment per source and entity sentiment in paragraphs (the entity output,
    else the sentence holding the mention), on the authors' dev and test splits; the contrast suite."""
    f = card.get("formal_news")
    if not f:
        return []
    keys = ("accuracy", "macro_f1", "ece")
    lines = [
        "## Formal news (SENTiVENT, SentiFM, NewsMTSC)",
        "",
        f"{f['about']}",
        "",
        "| sentence sentiment | split | accuracy | macro_f1 | ece | n |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("dev", "test"):
        for name, m in f[split]["sentence_sentiment"].items():
            lines.append(_row(f"{name} | {split}", m, keys))
    lines += [
        "",
        "| entities in paragraphs | split | answered (entity or sentence) | answer accuracy | entity output "
        "answers | right when it answers | text label for every entity | mixed paragraphs: answer | mixed: "
        "text label | n |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split in ("dev", "test"):
        m = f[split]["paragraph_entity"]
        lines.append(
            f"| paragraphs | {split} | {m['answered']:.4f} | {m['answer_accuracy']:.4f} | {m['coverage']:.4f} | "
            f"{m['accuracy_covered']:.4f} | {m['baseline_accuracy']:.4f} | {m.get('mixed_answer_accuracy', 0):.4f} | "
            f"{m.get('mixed_baseline_accuracy', 0):.4f} | {int(m['n'])} |"
        )
    prior = card.get("sentiment_prior_correction")
    if prior:
        lines += [
            "",
            f"Neutral prior correction (`training/prior.py`): {prior['neutral_logit_offset']} added to the "
            f"sentiment head's neutral logit ({prior['rule']}; these sets annotate polar expressions only, so "
            f"their sentences teach 'formal means polar'): sentiment dev accuracy "
            f"{prior['dev_accuracy_before']:.4f} -> {prior['dev_accuracy_after']:.4f}. Every figure on this card "
            "is measured with it.",
        ]
    c = f["contrast_suite"]
    lines += [
        "",
        f"Contrast suite ({c['about']}): {int(c['texts'])} texts, {int(c['metrics']['n'])} entities; answer "
        f"accuracy {c['metrics']['answer_accuracy']:.4f} (text label for every entity "
        f"{c['metrics']['baseline_accuracy']:.4f}). The shipped-model tests hold floors about 2 points under "
        "these figures.",
        "",
    ]
    return lines
