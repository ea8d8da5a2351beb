"""`finsent train` and `finsent evaluate`: the news model's training and per-task metrics.

Importing this module (and so building the CLI) does not import torch: model code is imported by the
handlers only."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Settings

if TYPE_CHECKING:
    from pipeline.model.checkpoint import LoraSpec
    from pipeline.model.training.resume import ResumeOptions

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """`$FINSENT_TRAIN_DATA`, else `../shared/data` beside the repository."""
    env = os.environ.get("FINSENT_TRAIN_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


DEFAULT_CHECKPOINT = REPO_ROOT / "pipeline" / "model" / "artifacts" / "default"
"""The shipped checkpoint (`pipeline.model.checkpoint.DEFAULT_DIR`, not imported here: no torch at start-up)."""
ENTITY_CHECK_FILE = REPO_ROOT / "tests" / "data" / "sentfin_entity_check.csv"
"""The fixed SEntFiN subset whose entity figures the card records and CI re-computes."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Parsers only: numeric defaults are None here and filled from `TrainConfig` in the handler, so
    building the CLI never imports torch."""
    train = subparsers.add_parser(
        "train",
        help="train the news model (stage all: encoder + topic/sentiment/NER; stage entity-head: the "
        "entity-sentiment head on a frozen checkpoint)",
    )
    train.add_argument(
        "--stage",
        choices=("all", "entity-head", "continue", "promote"),
        default="all",
        help="all (default): the joint three-head model from the backbone; entity-head: freeze "
        "--init-from and train only the entity-sentiment head on cached encoder states; continue "
        "(experiment): fine-tune --init-from further on all four tasks with EMA and label smoothing; promote: "
        "re-compute every figure of a continue result (--out) and write its card (parent: --init-from)",
    )
    train.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="with --stage entity-head / continue: the checkpoint to start from (default: the shipped one)",
    )
    train.add_argument(
        "--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint dir (default: the shipped one)"
    )
    train.add_argument("--data-dir", type=Path, default=None, help="training data (default ../shared/data)")
    train.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="time budget (default 58; entity-head 20; continue 40)",
    )
    train.add_argument("--seed", type=int, default=None, help="default 13")
    train.add_argument(
        "--resume",
        action="store_true",
        help="stage all / continue: go on from --out/resume.pt (same config; --threads may change)",
    )
    train.add_argument(
        "--resume-every",
        type=float,
        default=10.0,
        metavar="MINUTES",
        help="stage all / continue: minutes between saves of --out/resume.pt (default 10; 0: only at the "
        "end of the loop); it is deleted once the stage has written its checkpoint",
    )
    train.add_argument("--steps", type=int, default=None, help="stage all: step upper bound (default 6500)")
    train.add_argument(
        "--eval-every", type=int, default=None, help="stage all: steps between dev evals (500)"
    )
    train.add_argument("--device", default=None, help="cpu, cuda ... (default: best)")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads for training (default 2)")
    train.add_argument(
        "--backbone",
        type=Path,
        default=None,
        help="any local Hugging Face encoder dir, e.g. a reassembled all-mpnet-base-v2 (default: pinned MiniLM)",
    )
    train.add_argument(
        "--lora-r",
        type=int,
        default=0,
        help="LoRA rank on every encoder linear layer, merged at load (default 0: full fine-tune delta)",
    )
    train.add_argument("--lora-alpha", type=int, default=None, help="LoRA alpha (default 2 x rank)")
    train.add_argument(
        "--layer-decay",
        type=float,
        default=None,
        help="continue: layer-wise LR decay, each encoder layer down trains at this share of the one above (default 1)",
    )
    train.add_argument(
        "--mixed-repeat",
        type=int,
        default=None,
        help="continue: times per epoch an entity example from a text whose entities disagree is seen (default 1)",
    )
    train.add_argument(
        "--contrast-pairs",
        type=int,
        default=None,
        help="continue: synthetic texts joining a positive and a negative single-entity headline (default 0)",
    )
    train.add_argument(
        "--formal",
        action="store_true",
        help="continue: add the formal-news sets (SENTiVENT, SentiFM, NewsMTSC) at sentence and paragraph level",
    )
    train.add_argument(
        "--formal-repeat",
        type=int,
        default=None,
        help="continue --formal: times per epoch a formal-news sentence is seen (default 1)",
    )
    train.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="continue: tokens read per text (default: the parent checkpoint's; 256 reads whole paragraphs)",
    )
    train.set_defaults(handler=run_train)

    ev = subparsers.add_parser("evaluate", help="per-task metrics of a checkpoint on a labelled file")
    ev.add_argument(
        "--task",
        choices=("topic", "sentiment", "ner", "entity_sentiment"),
        required=True,
        help="entity_sentiment reads a CSV of entity spans (text, start, end, label) or a SEntFiN-format one "
        "(Title, Decisions = {'entity': 'label', ...}) and scores the gold entity spans against the text-label "
        "baseline",
    )
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
            print(
                f"finsent model activate: no enrichment is stored under {args.version!r} "
                f"(stored: {sorted(stored) or 'none'}); --force to activate it anyway",
                file=sys.stderr,
            )
            return 1
        activate(engine, args.version, now=utc_now(), by=getpass.getuser(), comment=args.comment)
        found = active_version(engine, settings.alerts_model_version)
    finally:
        engine.dispose()
    out = {
        "activated": args.version,
        "enrichments": stored.get(args.version, 0),
        "active": found.model_version,
    }
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
    print(
        json.dumps(
            {
                "active": found.model_version,
                "source": found.source,
                "activated_at": found.activated_at.isoformat() if found.activated_at else None,
                "activated_by": found.activated_by,
                "stored": stored,
            }
        )
    )
    return 0 if found.model_version else 1


def lora_spec(r: int, alpha: int | None) -> LoraSpec:
    """`--lora-r 0` is the shipped full fine-tune delta; a rank > 0 trains a LoRA adapter instead."""
    from pipeline.model.checkpoint import FULL_FINETUNE, LoraSpec

    if r <= 0:
        return FULL_FINETUNE
    return LoraSpec(r=r, alpha=alpha or 2 * r, dropout=0.05)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    if args.resume and args.stage in ("entity-head", "promote"):
        print(f"finsent train --stage {args.stage}: a stage of minutes, it does not resume")
        return 2
    if args.stage == "entity-head":
        return run_entity_stage(args, settings)
    if args.stage == "continue":
        return run_continue_stage(args)
    if args.stage == "promote":
        return run_promote_stage(args)
    from pipeline.model.training.config import TrainConfig
    from pipeline.model.training.trainer import train

    base = TrainConfig(data_dir=Path("."), out_dir=args.out.resolve())
    cfg = TrainConfig(
        lora=lora_spec(args.lora_r, args.lora_alpha),
        data_dir=(args.data_dir or default_data_dir()).resolve(),
        out_dir=args.out.resolve(),
        seed=_given(args.seed, base.seed),
        max_minutes=_given(args.max_minutes, base.max_minutes),
        steps=_given(args.steps, base.steps),
        eval_every=_given(args.eval_every, base.eval_every),
        device=args.device or settings.model_device,
        threads=_given(args.threads, base.threads),
        backbone=args.backbone.resolve() if args.backbone else None,
    )
    result = train(cfg, _resume_options(args))
    print(
        f"wrote {result.out_dir} (best step {result.best_step}/{result.steps_run}, {result.minutes:.1f} min)"
    )
    return 0


def run_entity_stage(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from pipeline.model.training.entity_stage import EntityHeadConfig, train_entity_head

    cfg = EntityHeadConfig(
        **_stage_fields(args, EntityHeadConfig),
        device=args.device or settings.model_device,
        check_file=ENTITY_CHECK_FILE if ENTITY_CHECK_FILE.is_file() else None,
    )
    section = train_entity_head(cfg)
    print(json.dumps({"out": str(cfg.out_dir), "dev": section["dev"], "throughput": section["throughput"]}))
    return 0


def run_continue_stage(args: argparse.Namespace) -> int:
    import json

    from pipeline.model.training.continued import ContinueConfig, continue_training

    if args.out.resolve() == DEFAULT_CHECKPOINT.resolve():
        print("finsent train --stage continue: give --out (an experiment never overwrites the shipped model)")
        return 2
    base = ContinueConfig(data_dir=Path("."), init_from=Path("."), out_dir=Path("."))
    cfg = ContinueConfig(
        **_stage_fields(args, ContinueConfig),
        layer_decay=_given(args.layer_decay, base.layer_decay),  # type: ignore[arg-type]
        mixed_repeat=_given(args.mixed_repeat, base.mixed_repeat),  # type: ignore[arg-type]
        contrast_pairs=_given(args.contrast_pairs, base.contrast_pairs),  # type: ignore[arg-type]
        formal=bool(args.formal),
        formal_repeat=_given(args.formal_repeat, base.formal_repeat),  # type: ignore[arg-type]
        max_length=_given(args.max_length, base.max_length),  # type: ignore[arg-type]
    )
    report = continue_training(cfg, _resume_options(args))
    print(json.dumps({k: report[k] for k in ("steps", "minutes")} | {"out": str(cfg.out_dir)}))
    return 0


def run_promote_stage(args: argparse.Namespace) -> int:
    import json

    from pipeline.model.training.continued import ContinueConfig
    from pipeline.model.training.promote import PromoteConfig, promote

    fields = _stage_fields(args, ContinueConfig)
    if fields["out_dir"] == DEFAULT_CHECKPOINT.resolve() or not (fields["out_dir"] / "continued.json").is_file():
        print("finsent train --stage promote: give --out, the directory a --stage continue run wrote")
        return 2
    cfg = PromoteConfig(
        data_dir=fields["data_dir"],
        checkpoint=fields["out_dir"],
        parent_card=fields["init_from"] / "model_card.json",
        seed=fields["seed"],
        threads=fields["threads"],
        check_file=ENTITY_CHECK_FILE if ENTITY_CHECK_FILE.is_file() else None,
    )
    card = promote(cfg)
    dev, ent = card["dev_metrics"], card["entity_sentiment"]["dev"]
    print(
        json.dumps(
            {
                "model_version": card["model_version"],
                "topic_accuracy": dev["topic"]["accuracy"],
                "sentiment_accuracy": dev["sentiment"]["accuracy"],
                "ner_eng_testa_f1": card["ner_eng_testa"]["f1"],
                "entity": {k: v for k, v in ent.items() if "accuracy" in k or k == "coverage"},
            }
        )
    )
    return 0


def _resume_options(args: argparse.Namespace) -> ResumeOptions:
    from pipeline.model.training.resume import ResumeOptions

    return ResumeOptions(resume=bool(args.resume), every_minutes=args.resume_every)


def _stage_fields(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The fields every stage built on `--init-from` shares; numbers not given take `config`'s defaults."""
    base = config(data_dir=Path("."), init_from=Path("."), out_dir=Path("."))
    return {
        "data_dir": (args.data_dir or default_data_dir()).resolve(),
        "init_from": (args.init_from or DEFAULT_CHECKPOINT).resolve(),
        "out_dir": args.out.resolve(),
        "seed": _given(args.seed, base.seed),
        "max_minutes": _given(args.max_minutes, base.max_minutes),
        "threads": _given(args.threads, base.threads),
    }


def _given(value: object, default: object) -> object:
    """The flag's value where one was given, else the config's default (parsers default to None)."""
    return default if value is None else value


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
    metrics = evaluate_file(
        model,
        loaded.tokenizer,
        args.file,
        args.task,
        loaded.spec.max_length,
        loaded.spec.entity_abstain_below,
    )
    print(metrics_json(args.task, args.file, metrics))
    print(format_table(args.task, args.file, metrics))
    return 0
