"""`finsent train` / `finsent evaluate` wiring, and evaluation on a tiny checkpoint."""

import argparse
import json

import torch

from pipeline.config import Settings
from pipeline.model.checkpoint import DEFAULT_DIR, save_checkpoint
from workers.commands import model as commands


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    commands.register(p.add_subparsers(dest="command"))
    return p


def test_train_defaults_and_data_dir_env(monkeypatch, tmp_path) -> None:
    args = parser().parse_args(["train", "--max-minutes", "5"])
    assert args.out == DEFAULT_DIR and args.max_minutes == 5 and args.handler is commands.run_train
    assert commands.default_data_dir().parts[-2:] == ("shared", "data")
    monkeypatch.setenv("FINSENT_TRAIN_DATA", str(tmp_path))
    assert commands.default_data_dir() == tmp_path


def test_train_lora_flags_map_to_the_trainer_config() -> None:
    from pipeline.model.training.config import TrainConfig

    args = parser().parse_args(["train"])
    default = TrainConfig(data_dir=DEFAULT_DIR, out_dir=DEFAULT_DIR).lora
    assert commands.lora_spec(args.lora_r, args.lora_alpha) == default
    args = parser().parse_args(["train", "--lora-r", "32"])
    spec = commands.lora_spec(args.lora_r, args.lora_alpha)
    assert (spec.r, spec.alpha) == (32, 64)
    assert commands.lora_spec(8, 8).alpha == 8


def test_evaluate_prints_json_metrics(tmp_path, tiny_lora_model, tiny_lora_spec, capsys) -> None:
    ckpt = tmp_path / "ckpt"
    save_checkpoint(tiny_lora_model, tiny_lora_spec, ckpt, dtype=torch.float32)
    topic = tmp_path / "topic.csv"
    topic.write_text('text,label\n"Fed signals rate cut https://t.co/x",1\nApple shares slide,19\n')
    conll = tmp_path / "ner.conll"
    conll.write_text("Tim B-PER\nCook I-PER\nruns O\nApple B-ORG\n\nNew B-LOC\nYork I-LOC\n")
    for task, path in (("topic", topic), ("sentiment", topic), ("ner", conll)):
        if task == "sentiment":
            path = tmp_path / "sent.csv"
            path.write_text("text,label\nstock up,1\nstock down,0\nfed,2\n")
        args = parser().parse_args(["evaluate", "--task", task, "--file", str(path), "--model", str(ckpt)])
        assert args.handler(args, Settings()) == 0
        line = capsys.readouterr().out.splitlines()[0]
        metrics = json.loads(line)
        assert metrics["task"] == task
        key = "f1" if task == "ner" else "accuracy"
        assert 0.0 <= metrics[key] <= 1.0
        if task != "ner":
            assert "macro_f1" in metrics and "ece" in metrics


def test_evaluate_entity_sentiment_against_the_headline_baseline(
    tmp_path, tiny_lora_model, tiny_lora_spec, capsys
) -> None:
    ckpt = tmp_path / "ckpt"
    save_checkpoint(tiny_lora_model, tiny_lora_spec, ckpt, dtype=torch.float32)
    path = tmp_path / "sentfin.csv"
    path.write_text(
        "S No.,Title,Decisions,Words\n"
        "1,apple shares slide as microsoft stock buy,\"{'apple': 'negative', 'microsoft': 'positive'}\",7\n"
        "2,fed signals rate cut,\"{'fed': 'neutral', 'ecb': 'neutral'}\",4\n"
    )
    args = parser().parse_args(
        ["evaluate", "--task", "entity_sentiment", "--file", str(path), "--model", str(ckpt)]
    )
    assert args.handler(args, Settings()) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[0])
    assert metrics["n"] == 3 and metrics["not_found"] == 1 and metrics["coverage"] == 1.0
    for key in ("accuracy", "macro_f1", "ece", "accuracy_covered", "baseline_accuracy", "baseline_macro_f1"):
        assert 0.0 <= metrics[key] <= 1.0


def test_building_the_cli_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workers.cli; workers.cli.build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'pipeline.model') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_cli_checkpoint_path_is_the_shipped_one() -> None:
    assert commands.DEFAULT_CHECKPOINT == DEFAULT_DIR


def test_entity_stage_flags() -> None:
    args = parser().parse_args(["train", "--stage", "entity-head", "--init-from", "x", "--threads", "1"])
    assert args.stage == "entity-head" and args.init_from.name == "x" and args.threads == 1
    assert args.seed is None  # filled from the config in the handler
