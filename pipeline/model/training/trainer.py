"""The multi-task training loop behind `finsent train`."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pipeline.model.backbone import default_backbone_path, sha256_file, weights_file
from pipeline.model.checkpoint import (
    DEFAULT_BACKBONE,
    CheckpointSpec,
    attach_lora,
    load_model,
    save_checkpoint,
    trainable_state,
)
from pipeline.model.evaluate import evaluate_tagged, evaluate_texts
from pipeline.model.labels import LabelMaps
from pipeline.model.network import NewsModel
from pipeline.model.quantize import quantize_int8
from pipeline.model.tokens import collate
from pipeline.model.training.card import write_card
from pipeline.model.training.config import TrainConfig
from pipeline.model.training.data import Corpus, build_corpus, training_files
from pipeline.model.training.features import IGNORE, Feature, tagged_features, text_features
from pipeline.model.training.losses import TaskWeighting, class_weights
from pipeline.model.training.resume import (
    Best,
    ResumeOptions,
    Resumer,
    TrainClock,
    capture,
    restore,
    sampler_seed,
)
from pipeline.model.training.sampler import TaskSampler
from pipeline.model.training.sources import NER_EVAL_FILE, read_conll

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    dev_metrics: dict[str, dict[str, float]]
    best_step: int
    steps_run: int
    minutes: float


FINAL_RESERVE_S = 330


def lr_factor(step: int, steps: int, warmup: int, time_fraction: float) -> float:
    """Linear warm-up, then linear decay to 0 over whichever runs out first: the step budget or the
    time budget (so a slow machine still anneals before `--max-minutes`)."""
    if step <= warmup:
        return step / warmup
    progress = max((step - warmup) / max(1, steps - warmup), time_fraction)
    return max(0.0, 1.0 - progress)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def dev_metrics(
    model: NewsModel, tokenizer: Any, corpus: Corpus, max_length: int
) -> dict[str, dict[str, float]]:
    """Topic and sentiment on the own dev split (sentiment also per source), NER on the CoNLL dev slice."""
    sentiment = evaluate_texts(
        model, tokenizer, corpus.sentiment_dev, "sentiment", max_length, by_source=True
    )
    out = {
        "topic": evaluate_texts(model, tokenizer, corpus.topic_dev, "topic", max_length)["all"],
        "sentiment": sentiment.pop("all"),
        "ner": evaluate_tagged(model, tokenizer, corpus.ner_dev, max_length),
    }
    out.update({f"sentiment/{k}": v for k, v in sentiment.items()})
    return out


def selection_score(m: dict[str, dict[str, float]]) -> float:
    """Early-stopping criterion: mean of topic accuracy, sentiment accuracy and NER dev F1."""
    return (m["topic"]["accuracy"] + m["sentiment"]["accuracy"] + m["ner"]["f1"]) / 3


def build_features(
    cfg: TrainConfig, corpus: Corpus, tokenizer: Any, labels: LabelMaps
) -> dict[str, list[Feature]]:
    ner_train = [e for e in corpus.ner_train for _ in range(cfg.ner_source_weights.get(e.source, 1))]
    return {
        "topic": text_features(tokenizer, corpus.topic_train, labels.index("topic"), cfg.max_length),
        "sentiment": text_features(
            tokenizer, corpus.sentiment_train, labels.index("sentiment"), cfg.max_length
        ),
        "ner": tagged_features(tokenizer, ner_train, labels.index("ner"), cfg.max_length),
    }


def train(cfg: TrainConfig, resume: ResumeOptions | None = None) -> TrainResult:
    """Train encoder + topic/sentiment/NER heads, early-stop on the dev split, write the checkpoint and
    model card to `cfg.out_dir`. The checkpoint has no entity head (entity sentiment None) until
    `entity_stage.train_entity_head` adds one. `cfg.out_dir/resume.pt` is saved every
    `resume.every_minutes` and at the end of the loop (`training.resume`); `resume.resume` goes on
    from it."""
    t_start = time.monotonic()
    resumer = Resumer(cfg.out_dir, cfg.to_dict(), resume or ResumeOptions())
    state = resumer.begin()
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    backbone = cfg.backbone or default_backbone_path()
    labels = LabelMaps.default()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(backbone), use_fast=True)
    corpus = build_corpus(cfg.data_dir, cfg.seed, cfg.dev_fraction, cfg.ner_dev_fraction)
    feats = build_features(cfg, corpus, tokenizer, labels)
    log.info("corpus %s", corpus.stats)

    model = NewsModel.from_backbone(backbone, labels)
    model.entity_head = None  # trained afterwards on the frozen result: `finsent train --stage entity-head`
    model = attach_lora(model, cfg.lora).to(device)
    base = (
        {
            n: p.detach().cpu().clone()
            for n, p in model.named_parameters()
            if p.requires_grad and n.startswith("encoder.")
        }
        if cfg.lora.r == 0
        else None
    )
    weights = {
        "topic": class_weights([f.label for f in feats["topic"]], len(labels.topic), cfg.class_weight_power),
        "sentiment": class_weights(
            [f.label for f in feats["sentiment"]], len(labels.sentiment), cfg.class_weight_power
        ),
    }
    losses = {t: nn.CrossEntropyLoss(weight=w.to(device)) for t, w in weights.items()}
    losses["ner"] = nn.CrossEntropyLoss(ignore_index=IGNORE)
    weighting = TaskWeighting(cfg.task_weights, cfg.uncertainty_weighting).to(device)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for n, p in model.named_parameters():
        if p.requires_grad:
            is_head = not n.startswith("encoder.") or "lora_" in n
            decays = p.ndim > 1 and "LayerNorm" not in n
            groups.setdefault((is_head, decays), []).append(p)
    groups.setdefault((True, False), []).extend(weighting.parameters())
    optim = torch.optim.AdamW(
        [
            {
                "params": ps,
                "lr": cfg.head_lr if head else cfg.lr,
                "weight_decay": cfg.weight_decay if dec else 0.0,
            }
            for (head, dec), ps in groups.items()
        ]
    )
    warmup = max(1, int(cfg.steps * cfg.warmup_fraction))
    base_lrs = [g["lr"] for g in optim.param_groups]
    sizes = {
        "topic": len(corpus.topic_train),
        "sentiment": len(corpus.sentiment_train),
        "ner": len(corpus.ner_train),
    }
    modules = {"model": model, "weighting": weighting}
    start = 0 if state is None else state.step
    if state is not None:
        restore(state, modules, optim)
    sampler = TaskSampler(
        feats,
        cfg.batch_size,
        cfg.temperature,
        sampler_seed(cfg.seed, start),
        sizes=sizes,
        boost=cfg.task_sampling,
    )
    pad_id = int(tokenizer.pad_token_id or 0)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )

    best = Best(state=trainable_state(model)) if state is None or state.best is None else state.best
    history = best.history
    running: dict[str, float] = {}
    wall_before = 0.0 if state is None else state.wall_s
    # the loop's time budget leaves FINAL_RESERVE_S for the final evals and save
    budget = t_start + cfg.max_minutes * 60 - FINAL_RESERVE_S - time.monotonic()
    clock = TrainClock(budget, 0.0) if state is None else TrainClock(state.budget_s, state.spent_s)

    def snapshot(best: Best, done: bool) -> None:
        wall = wall_before + time.monotonic() - t_start
        resumer.save(capture(cfg.to_dict(), step, clock, wall, modules, optim, best=best, done=done))

    batches: Iterable[tuple[str, list[Feature]]] = () if state is not None and state.done else sampler
    step = start
    bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="step", dynamic_ncols=True)
    model.train()
    for step, (task, batch) in enumerate(batches, start=start + 1):
        enc = collate([f.tokens for f in batch], pad_id).to(device)
        with autocast:
            out = model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        if task == "ner":
            width = enc.input_ids.shape[1]
            tags = torch.tensor(
                [list(f.tags) + [IGNORE] * (width - len(f.tags)) for f in batch], device=device
            )
            loss = losses["ner"](
                out.ner_logits.float().reshape(-1, out.ner_logits.shape[-1]), tags.reshape(-1)
            )
        else:
            target = torch.tensor([f.label for f in batch], device=device)
            loss = losses[task](getattr(out, f"{task}_logits").float(), target)
        total = weighting(task, loss)
        total.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g["params"]], 1.0)
        factor = lr_factor(step, cfg.steps, warmup, clock.fraction())
        for g, base_lr in zip(optim.param_groups, base_lrs, strict=False):
            g["lr"] = base_lr * factor
        optim.step()
        optim.zero_grad(set_to_none=True)
        running[task] = 0.98 * running.get(task, loss.item()) + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in sorted(running.items())})
        out_of_time = clock.out_of_time()
        if step % cfg.eval_every == 0 or step >= cfg.steps or out_of_time:
            metrics = dev_metrics(model, tokenizer, corpus, cfg.max_length)
            score = selection_score(metrics)
            history.append(
                {
                    "step": step,
                    "score": score,
                    "minutes": (wall_before + time.monotonic() - t_start) / 60,
                    **{k: {m: round(v, 4) for m, v in d.items()} for k, d in metrics.items() if "/" not in k},
                }
            )
            tqdm.write(
                f"step {step}: score {score:.4f} topic {metrics['topic']['accuracy']:.4f} "
                f"sentiment {metrics['sentiment']['accuracy']:.4f} ner {metrics['ner']['f1']:.4f}"
            )
            if score > best.score:
                best = Best(score, step, trainable_state(model), 0, history)
            else:
                best = replace(best, stale=best.stale + 1)
            model.train()
            if best.stale >= cfg.patience:
                tqdm.write(f"early stop at step {step} (best {best.step})")
                break
        if step >= cfg.steps or out_of_time:
            break
        if resumer.due():
            snapshot(best, done=False)
    bar.close()
    snapshot(best, done=True)

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in best.state:
                p.copy_(best.state[name])
    model.eval()
    spec = CheckpointSpec(
        backbone_sha256=sha256_file(weights_file(backbone)),
        backbone_package=DEFAULT_BACKBONE if cfg.backbone is None else None,
        backbone_path=None if cfg.backbone is None else str(cfg.backbone),
        lora=cfg.lora,
        max_length=cfg.max_length,
    )
    save_checkpoint(model.cpu(), spec, cfg.out_dir, base=base)
    best_step = best.step
    del model, best
    final = final_metrics(cfg, corpus)
    minutes = (wall_before + time.monotonic() - t_start) / 60
    write_card(
        cfg.out_dir,
        cfg=cfg,
        spec=spec,
        labels=labels,
        files=training_files(cfg.data_dir),
        corpus_stats=corpus.stats,
        dev=final["dev"],
        ner_testa=final["ner_testa"],
        int8=final["int8"],
        history=history,
        best_step=best_step,
        steps_run=step,
        minutes=minutes,
        device=str(device),
    )
    resumer.complete()
    return TrainResult(cfg.out_dir, final["dev"], best_step, step, minutes)


def final_metrics(cfg: TrainConfig, corpus: Corpus) -> dict[str, Any]:
    """Metrics of the checkpoint as saved (fp16 adapter, merged), then of its int8 CPU variant;
    int8 is recommended only if every headline metric stays within 1 point."""
    testa = read_conll(cfg.data_dir / NER_EVAL_FILE, "conll2003")
    loaded = load_model(cfg.out_dir, backbone=cfg.backbone)
    model = loaded.model.to("cpu")
    dev = dev_metrics(model, loaded.tokenizer, corpus, cfg.max_length)
    test = evaluate_tagged(model, loaded.tokenizer, testa, cfg.max_length)
    quantize_int8(model)
    qdev = dev_metrics(model, loaded.tokenizer, corpus, cfg.max_length)
    qtest = evaluate_tagged(model, loaded.tokenizer, testa, cfg.max_length)
    pairs = {
        "topic_accuracy": (dev["topic"]["accuracy"], qdev["topic"]["accuracy"]),
        "topic_macro_f1": (dev["topic"]["macro_f1"], qdev["topic"]["macro_f1"]),
        "sentiment_accuracy": (dev["sentiment"]["accuracy"], qdev["sentiment"]["accuracy"]),
        "sentiment_macro_f1": (dev["sentiment"]["macro_f1"], qdev["sentiment"]["macro_f1"]),
        "ner_testa_f1": (test["f1"], qtest["f1"]),
    }
    within = all(abs(a - b) <= 0.01 for a, b in pairs.values())
    int8 = {
        "within_1_point": within,
        "fp32_vs_int8": {k: [round(a, 4), round(b, 4)] for k, (a, b) in pairs.items()},
        "scheme": "dynamic, per-output-channel weight scales (torch.ao quantize_dynamic)",
    }
    return {"dev": dev, "ner_testa": test, "int8": int8}
