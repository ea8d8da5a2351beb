"""`finsent train --stage continue`: fine-tune a four-output checkpoint further on all four tasks.

An experiment stage: the encoder and every head train together (topic, sentiment and NER as in
`trainer.train`, plus entity sentiment on gold spans), with label smoothing on the noisy sentiment
sources, an exponential moving average (EMA) of the weights, and a linear decay to 0 over the time
budget. Entity examples whose text is in the headline-sentiment dev split are left out, so the
sentiment dev figures stay comparable. The result is written to `--out` with both the EMA and the raw
weights' dev figures in `continued.json`; it is shipped only if every figure is >= the parent's.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.model.checkpoint import FULL_FINETUNE, attach_lora, load_model, save_checkpoint
from pipeline.model.evaluate import evaluate_entities, evaluate_texts, mixed_mask
from pipeline.model.network import NewsModel
from pipeline.model.predictor import token_span
from pipeline.model.text import strip_links
from pipeline.model.tokens import collate, tokenize
from pipeline.model.training.config import TrainConfig
from pipeline.model.training.contrast import contrast_pairs
from pipeline.model.training.data import build_corpus
from pipeline.model.training.entities import entity_split
from pipeline.model.training.examples import EntityExample, TextExample
from pipeline.model.training.features import IGNORE, Feature, text_features
from pipeline.model.training.formal import (
    FormalData,
    entity_examples,
    load_formal,
    paragraphs,
    sentence_examples,
    sentence_in_context,
)
from pipeline.model.training.resume import ResumeOptions, Resumer, TrainClock, capture, restore, sampler_seed
from pipeline.model.training.sampler import TaskSampler
from pipeline.model.training.trainer import build_features, dev_metrics

log = logging.getLogger(__name__)
_LAYER = re.compile(r"\.layers?\.(\d+)\.")


@dataclass(frozen=True)
class ContinueConfig:
    data_dir: Path
    init_from: Path
    out_dir: Path
    seed: int = 13
    max_minutes: float = 40.0
    batch_size: int = 32
    lr: float = 2e-5  # encoder
    head_lr: float = 1e-4
    ema_decay: float = 0.998
    label_smoothing: float = 0.1  # sentiment and entity sentiment (noisy sources)
    task_sampling: tuple[tuple[str, float], ...] = (
        ("topic", 1.0),
        ("sentiment", 1.5),
        ("ner", 0.6),
        ("entity", 1.2),
        ("context", 0.8),
    )
    threads: int = 1
    eval_reserve_minutes: float = 5.0
    layer_decay: float = 1.0  # encoder layer k of L trains at lr * layer_decay ** (L - k); 1 = flat
    mixed_repeat: int = 1  # entity examples from texts whose entities disagree, seen this many times
    # headline-sentiment examples of these sources seen this many times (formal news: sentfin, fiqa_task1, ...)
    sentiment_source_repeat: tuple[tuple[str, int], ...] = ()
    contrast_pairs: int = 0  # synthetic two-headline texts of opposite entities (`training.contrast`)
    # formal news (`training.formal`): sentences join the sentiment task, their targets (in the
    # sentence and in 2-6-sentence paragraphs) the entity task, and each paragraph sentence a
    # "context" task (the sentiment head on that sentence's tokens pooled from the paragraph's pass)
    formal: bool = False
    formal_repeat: int = 1  # formal sentences seen this many times per sentiment epoch
    max_length: int = 0  # tokens read per text; 0 = the parent's (longer reads whole paragraphs)

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def entity_features(
    tokenizer: Any, examples: list[Any], index: dict[str, int], max_length: int
) -> list[Feature]:
    """Tokenized entity examples with their span; examples whose span was truncated away are dropped."""
    toks = tokenize(tokenizer, [e.text for e in examples], max_length)
    out = []
    for e, t in zip(examples, toks, strict=True):
        span = token_span(t.offsets, e.start, e.end)
        if span is not None:
            out.append(Feature(t, label=index[e.label], span=span))
    return out


def formal_features(
    tokenizer: Any, data: FormalData, index: dict[str, int], max_length: int, seed: int, repeat: int
) -> dict[str, list[Feature]]:
    """Train-split formal news as extra sentiment / entity features and the context task's features."""
    train = data.part("train")
    pars = paragraphs(train, seed)
    sentences = sentence_examples(train) * max(1, repeat)
    return {
        "sentiment": text_features(tokenizer, sentences, index, max_length),
        "entity": entity_features(tokenizer, entity_examples([*train, *pars]), index, max_length),
        "context": entity_features(tokenizer, sentence_in_context(pars), index, max_length),
    }


def formal_dev(data: FormalData, seed: int) -> tuple[list[TextExample], list[EntityExample]]:
    """Dev-split formal sentences and the targets of dev-split paragraphs."""
    dev = data.part("dev")
    return sentence_examples(dev), entity_examples(paragraphs(dev, seed))


def with_mixed_repeated(examples: list[Any], repeat: int) -> list[Any]:
    """`examples` plus `repeat - 1` more copies of those whose text has entities of different labels."""
    mixed = [e for e, m in zip(examples, mixed_mask(examples), strict=True) if m]
    return examples + mixed * max(0, repeat - 1)


def encoder_depth(name: str, layers: int) -> int:
    """0 for the embeddings, k + 1 for transformer layer k, `layers + 1` above the encoder stack."""
    match = _LAYER.search(name)
    if match:
        return int(match.group(1)) + 1
    return 0 if "embeddings" in name else layers + 1


def layerwise_groups(
    params: list[tuple[str, nn.Parameter]], layers: int, lr: float, head_lr: float, decay: float
) -> list[dict[str, Any]]:
    """AdamW groups: heads at `head_lr`; encoder parameters at `lr * decay ** (layers + 1 - depth)`, so
    lower layers (general language) move less than the top ones (layer-wise LR decay)."""
    by_lr: dict[float, list[nn.Parameter]] = {}
    for n, p in params:
        rate = lr * decay ** (layers + 1 - encoder_depth(n, layers)) if n.startswith("encoder.") else head_lr
        by_lr.setdefault(rate, []).append(p)
    return [{"params": ps, "lr": rate} for rate, ps in sorted(by_lr.items())]


def _scores(
    model: NewsModel,
    tokenizer: Any,
    corpus: Any,
    ent_dev: list[Any],
    max_length: int,
    threshold: float,
    formal: tuple[list[TextExample], list[EntityExample]] | None = None,
) -> dict[str, Any]:
    m = dev_metrics(model, tokenizer, corpus, max_length)
    m["entity_sentiment"] = evaluate_entities(model, tokenizer, ent_dev, max_length, threshold)
    if formal is not None:
        sentences, targets = formal
        by_source = evaluate_texts(model, tokenizer, sentences, "sentiment", max_length, by_source=True)
        m["formal_sentiment"] = by_source.pop("all")
        m |= {f"formal_sentiment/{k}": v for k, v in by_source.items()}
        m["formal_paragraph_entity"] = evaluate_entities(model, tokenizer, targets, max_length, threshold)
    return m


def continue_training(cfg: ContinueConfig, resume: ResumeOptions | None = None) -> dict[str, Any]:
    """Run the stage; `cfg.out_dir/resume.pt` is saved every `resume.every_minutes` and at the end of
    the loop (`training.resume`), and `resume.resume` goes on from it."""
    t_start = time.monotonic()
    resumer = Resumer(cfg.out_dir, cfg.to_dict(), resume or ResumeOptions())
    state = resumer.begin()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    loaded = load_model(cfg.init_from)
    model, tokenizer, spec = loaded.model, loaded.tokenizer, loaded.spec
    if model.entity_head is None:
        raise ValueError("[M022] --init-from has no entity head: run --stage entity-head first")
    backbone = spec.resolve_backbone()
    base_model = NewsModel.from_backbone(backbone, model.labels)
    attach_lora(model, FULL_FINETUNE)
    for n, p in model.named_parameters():
        if not n.startswith("encoder."):
            p.requires_grad = True
    base = {n: p.detach().clone() for n, p in base_model.named_parameters() if n.startswith("encoder.")}
    base = {n: t for n, t in base.items() if dict(model.named_parameters())[n].requires_grad}
    del base_model
    if cfg.max_length:
        spec = replace(spec, max_length=cfg.max_length)
    tcfg = TrainConfig(data_dir=cfg.data_dir, out_dir=cfg.out_dir, seed=cfg.seed, max_length=spec.max_length)
    corpus = build_corpus(cfg.data_dir, cfg.seed, tcfg.dev_fraction, tcfg.ner_dev_fraction)
    feats = build_features(tcfg, corpus, tokenizer, model.labels)
    if cfg.sentiment_source_repeat:
        repeat = dict(cfg.sentiment_source_repeat)
        weighted = [e for e in corpus.sentiment_train for _ in range(repeat.get(e.source, 1))]
        feats["sentiment"] = text_features(
            tokenizer, weighted, model.labels.index("sentiment"), spec.max_length
        )
    split = entity_split(cfg.data_dir, cfg.seed)
    held = {strip_links(e.text) for e in corpus.sentiment_dev}
    ent_train = [e for e in split.train if strip_links(e.text) not in held]
    index = model.labels.index("sentiment")
    synthetic = contrast_pairs(ent_train, cfg.contrast_pairs, cfg.seed)
    feats["entity"] = entity_features(
        tokenizer, with_mixed_repeated(ent_train, cfg.mixed_repeat) + synthetic, index, spec.max_length
    )
    dev_formal = None
    if cfg.formal:
        data = load_formal(cfg.data_dir, cfg.seed)
        extra = formal_features(tokenizer, data, index, spec.max_length, cfg.seed, cfg.formal_repeat)
        for task, fs in extra.items():
            feats[task] = feats.get(task, []) + fs
        dev_formal = formal_dev(data, cfg.seed)
    log.info("continued training: %s", {k: len(v) for k, v in feats.items()})

    losses = {
        "topic": nn.CrossEntropyLoss(),
        "sentiment": nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing),
        "entity": nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing),
        "ner": nn.CrossEntropyLoss(ignore_index=IGNORE),
    }
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optim = torch.optim.AdamW(
        layerwise_groups(
            params, model.encoder.config.num_hidden_layers, cfg.lr, cfg.head_lr, cfg.layer_decay
        ),
        weight_decay=0.01,
    )
    base_lrs = [g["lr"] for g in optim.param_groups]
    ema = {n: p.detach().clone() for n, p in params}
    start, wall_before = 0, 0.0
    budget = t_start + (cfg.max_minutes - cfg.eval_reserve_minutes) * 60 - time.monotonic()
    clock = TrainClock(budget)
    if state is not None:
        restore(state, {"model": model}, optim)
        ema = state.ema or ema
        start, wall_before = state.step, state.wall_s
        clock = TrainClock(state.budget_s, state.spent_s)
    sampler = TaskSampler(
        feats, cfg.batch_size, 3.0, sampler_seed(cfg.seed, start), boost=dict(cfg.task_sampling)
    )
    pad_id = int(tokenizer.pad_token_id or 0)

    def snapshot(done: bool) -> None:
        wall = wall_before + time.monotonic() - t_start
        resumer.save(capture(cfg.to_dict(), step, clock, wall, {"model": model}, optim, ema=ema, done=done))

    batches: Iterable[tuple[str, list[Feature]]] = () if state is not None and state.done else sampler
    step = start
    model.train()
    for step, (task, batch) in enumerate(batches, start=start + 1):
        enc = collate([f.tokens for f in batch], pad_id)
        spans = (
            torch.tensor([(i, *f.span) for i, f in enumerate(batch)], dtype=torch.long)  # type: ignore[misc]
            if task in ("entity", "context")
            else None
        )
        out = model(
            enc.input_ids,
            enc.attention_mask,
            enc.casing_ids,
            entity_spans=spans if task == "entity" else None,
        )
        if task == "ner":
            width = enc.input_ids.shape[1]
            tags = torch.tensor([list(f.tags) + [IGNORE] * (width - len(f.tags)) for f in batch])
            loss = losses["ner"](out.ner_logits.reshape(-1, out.ner_logits.shape[-1]), tags.reshape(-1))
        elif task == "context":
            logits = model.sentence_logits(out.hidden, spans)  # type: ignore[arg-type]
            loss = losses["sentiment"](logits, torch.tensor([f.label for f in batch]))
        else:
            logits = out.entity_logits if task == "entity" else getattr(out, f"{task}_logits")
            loss = losses[task](logits, torch.tensor([f.label for f in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
        factor = max(0.0, 1.0 - clock.fraction())
        for g, lr in zip(optim.param_groups, base_lrs, strict=True):
            g["lr"] = lr * min(1.0, step / 100) * factor
        optim.step()
        optim.zero_grad(set_to_none=True)
        with torch.no_grad():
            for n, p in params:
                ema[n].mul_(cfg.ema_decay).add_(p.detach(), alpha=1 - cfg.ema_decay)
        if step % 100 == 0:
            log.info(
                "step %d task %s loss %.4f (%.1f min)",
                step,
                task,
                loss.item(),
                (wall_before + time.monotonic() - t_start) / 60,
            )
        if clock.out_of_time():
            break
        if resumer.due():
            snapshot(done=False)
    snapshot(done=True)
    model.eval()
    threshold = spec.entity_abstain_below
    ent_dev = split.dev
    raw = _scores(model, tokenizer, corpus, ent_dev, spec.max_length, threshold, dev_formal)
    with torch.no_grad():
        for n, p in params:
            p.copy_(ema[n])
    averaged = _scores(model, tokenizer, corpus, ent_dev, spec.max_length, threshold, dev_formal)
    save_checkpoint(model, spec, cfg.out_dir, base=base)
    report = {
        "config": cfg.to_dict(),
        "steps": step,
        "minutes": round((wall_before + time.monotonic() - t_start) / 60, 1),
        "resumed_from_step": start or None,
        "raw": raw,
        "ema": averaged,
    }
    (cfg.out_dir / "continued.json").write_text(json.dumps(report, indent=2) + "\n")
    resumer.complete()
    return report
