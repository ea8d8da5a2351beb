"""`finsent train` and `finsent evaluate`: the news model's training and per-task metrics."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings

if TYPE_CHECKING:
    from pipeline.model.checkpoint import LoraSpec

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """`$FINSENT_TRAIN_DATA`, else `../shared/data` beside the repository."""
    env = os.environ.get("FINSENT_TRAIN_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from pipeline.model.checkpoint import DEFAULT_DIR
    from pipeline.model.training.config import TrainConfig

    defaults = TrainConfig(data_dir=Path("."), out_dir=DEFAULT_DIR)
    train = subparsers.add_parser("train", help="train the joint topic/sentiment/NER model")
    train.add_argument(
        "--out", type=Path, default=DEFAULT_DIR, help="checkpoint dir (default: the shipped one)"
    )
    train.add_argument("--data-dir", type=Path, default=None, help="training data (default ../shared/data)")
    train.add_argument("--max-minutes", type=float, default=defaults.max_minutes)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--steps", type=int, default=defaults.steps)
    train.add_argument("--eval-every", type=int, default=defaults.eval_every)
    train.add_argument("--device", default=None, help="cpu, cuda ... (default: best)")
    train.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads for training")
    train.add_argument(
        "--backbone",
        type=Path,
        default=None,
        help="any local Hugging Face encoder dir (default: pinned MiniLM)",
    )
    train.add_argument(
        "--lora-r",
        type=int,
        default=defaults.lora.r,
        help="LoRA rank on every encoder linear layer, merged at load (default 0: full fine-tune delta)",
    )
    train.add_argument("--lora-alpha", type=int, default=None, help="LoRA alpha (default 2 x rank)")
    train.set_defaults(handler=run_train)

    ev = subparsers.add_parser("evaluate", help="per-task metrics of a checkpoint on a labelled file")
    ev.add_argument("--task", choices=("topic", "sentiment", "ner"), required=True)
    ev.add_argument("--file", type=Path, required=True)
    ev.add_argument("--model", type=Path, default=None, help="checkpoint dir (default: settings / shipped)")
    ev.add_argument("--int8", action="store_true", help="evaluate the int8 dynamically quantized CPU model")
    ev.set_defaults(handler=run_evaluate)
    register_activation(subparsers)


def register_activation(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`finsent model activate V | active`: the model version live alerts evaluate."""
    model = subparsers.add_parser("model", help="model versions: which one live alerts evaluate")
    actions = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    activate = actions.add_parser("activate", help="make VERSION the one live alerts evaluate (logged)")
    activate.add_argument("version", metavar="VERSION")
    activate.add_argument("--comment", default="", help="why")
    activate.add_argument("--force", action="store_true", help="even with no enrichment stored under it")
    activate.set_defaults(handler=run_activate)
    active = actions.add_parser("active", help="the active version, and the stored ones with their counts")
    active.set_defaults(handler=run_active)


def run_activate(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    import json
    import sys

    from pipeline.db import open_database
    from pipeline.db.activation import activate, active_version, stored_versions
    from schemas import utc_now

    engine = open_database(settings)
    try:
        stored = stored_versions(engine)
        if args.version not in stored and not args.force:
            print(f"finsent model activate: no enrichment is stored under {args.version!r} "
                  f"(stored: {sorted(stored) or 'none'}); --force to activate it anyway", file=sys.stderr)
            return 1
        activate(engine, args.version, now=utc_now(), by=getpass.getuser(), comment=args.comment)
        found = active_version(engine, settings.alerts_model_version)
    finally:
        engine.dispose()
    out = {"activated": args.version, "enrichments": stored.get(args.version, 0), "active": found.model_version}
    if found.source == "setting":
        out["note"] = "FINSENT_ALERTS_MODEL_VERSION is set and takes precedence"
    print(json.dumps(out))
    return 0


def run_active(_args: argparse.Namespace, settings: Settings) -> int:
    import json

    from pipeline.db import open_database
    from pipeline.db.activation import active_version, stored_versions

    engine = open_database(settings)
    try:
        found = active_version(engine, settings.alerts_model_version)
        stored = stored_versions(engine)
    finally:
        engine.dispose()
    print(json.dumps({
        "active": found.model_version,
        "source": found.source,
        "activated_at": found.activated_at.isoformat() if found.activated_at else None,
        "activated_by": found.activated_by,
        "stored": stored,
    }))
    return 0 if found.model_version else 1


def lora_spec(r: int, alpha: int | None) -> LoraSpec:
    """`--lora-r 0` is the shipped full fine-tune delta; a rank > 0 trains a LoRA adapter instead."""
    from pipeline.model.checkpoint import FULL_FINETUNE, LoraSpec

    if r <= 0:
        return FULL_FINETUNE
    return LoraSpec(r=r, alpha=alpha or 2 * r, dropout=0.05)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.model.training.config import TrainConfig
    from pipeline.model.training.trainer import train

    cfg = TrainConfig(
        lora=lora_spec(args.lora_r, args.lora_alpha),
        data_dir=(args.data_dir or default_data_dir()).resolve(),
        out_dir=args.out.resolve(),
        seed=args.seed,
        max_minutes=args.max_minutes,
        steps=args.steps,
        eval_every=args.eval_every,
        device=args.device or settings.model_device,
        threads=args.threads,
        backbone=args.backbone.resolve() if args.backbone else None,
    )
    result = train(cfg)
    print(
        f"wrote {result.out_dir} (best step {result.best_step}/{result.steps_run}, {result.minutes:.1f} min)"
    )
    return 0


def run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from pipeline.model.checkpoint import load_model
    from pipeline.model.evaluate import evaluate_file, format_table, metrics_json
    from pipeline.model.quantize import quantize_int8

    if settings.model_threads:
        torch.set_num_threads(settings.model_threads)
    loaded = load_model(args.model or settings.model_path)
    model = loaded.model
    if args.int8:
        quantize_int8(model)
    elif settings.model_device:
        model.to(settings.model_device)
    metrics = evaluate_file(model, loaded.tokenizer, args.file, args.task, loaded.spec.max_length)
    print(metrics_json(args.task, args.file, metrics))
    print(format_table(args.task, args.file, metrics))
    return 0
