"""`finsent train` (base stage) interrupted after a resume save, then resumed: the tiny BERT on a
tiny corpus, so the real loop, its final evaluation and its card run in seconds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from pipeline.config import Settings
from pipeline.model.backbone import sha256_file, weights_file
from pipeline.model.checkpoint import FULL_FINETUNE, CheckpointSpec, attach_lora, save_checkpoint
from pipeline.model.network import NewsModel
from pipeline.model.training import continued, trainer
from pipeline.model.training import resume as resume_mod
from pipeline.model.training.config import TrainConfig
from pipeline.model.training.data import Corpus
from pipeline.model.training.entities import EntitySplit
from pipeline.model.training.examples import EntityExample, TaggedExample, TextExample
from pipeline.model.training.resume import RESUME_FILE, ResumeError, ResumeOptions
from workers.commands import model as commands

TEXTS = ["fed signals rate cut", "apple shares slide", "stock buy aapl", "microsoft sell", "tim cook runs"]
SENTENCE = TaggedExample(("Tim", "Cook", "runs", "Apple"), ("B-PER", "I-PER", "O", "B-ORG"), "conll2003")


class Interrupted(Exception):
    """The test's stand-in for a killed process."""


def tiny_corpus(*_args: object) -> Corpus:
    topic = [TextExample(t, "Macro" if i % 2 else "Earnings", "t") for i, t in enumerate(TEXTS)]
    sentiment = [TextExample(t, ("negative", "neutral", "positive")[i % 3], "s") for i, t in enumerate(TEXTS)]
    return Corpus(topic, topic[:2], sentiment, sentiment[:2], [SENTENCE] * 3, [SENTENCE], {"tiny": True})


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture()
def tiny_run(tmp_path: Path, tiny_backbone: Path, monkeypatch: pytest.MonkeyPatch) -> TrainConfig:
    monkeypatch.setattr(trainer, "build_corpus", tiny_corpus)
    monkeypatch.setattr(trainer, "training_files", lambda _d: {})
    testa = tmp_path / "data" / "ner" / "conll2003" / "eng.testa"
    testa.parent.mkdir(parents=True)
    testa.write_text("Tim B-PER\nCook I-PER\nruns O\nApple B-ORG\n")
    return TrainConfig(
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "out",
        backbone=tiny_backbone,
        steps=6,
        batch_size=2,
        max_length=16,
        eval_every=2,
        patience=99,
        threads=1,
        device="cpu",
    )


def killed_after_saving(monkeypatch: pytest.MonkeyPatch, step: int) -> list[resume_mod.TrainingState]:
    """Every state saved from now on; the process "dies" right after saving `step`'s."""
    saved: list[resume_mod.TrainingState] = []
    real_save = resume_mod.save_state

    def save_then_die(path: Path, state: resume_mod.TrainingState) -> None:
        real_save(path, state)
        saved.append(state)
        if state.step == step and not state.done:
            raise Interrupted

    monkeypatch.setattr(resume_mod, "save_state", save_then_die)
    return saved


def test_the_base_stage_resumes_after_an_interruption(
    tiny_run: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = killed_after_saving(monkeypatch, step=3)
    with pytest.raises(Interrupted):
        trainer.train(tiny_run, ResumeOptions(every_minutes=1e-9))  # a save after every step
    state = resume_mod.load_state(tiny_run.out_dir / RESUME_FILE)
    assert [s.step for s in saved] == [1, 2, 3] and state.step == 3 and state.best is not None
    assert [h["step"] for h in state.best.history] == [2]

    with pytest.raises(ResumeError, match=r"\[M041\].*seed: 13 -> 14"):
        trainer.train(TrainConfig(**{**vars(tiny_run), "seed": 14}), ResumeOptions(resume=True))
    result = trainer.train(tiny_run, ResumeOptions(resume=True, every_minutes=0))
    assert result.steps_run == 6 and [s.step for s in saved] == [1, 2, 3, 6]  # then only the end of the loop
    card = json.loads((tiny_run.out_dir / "model_card.json").read_text())
    assert card["training"]["steps_run"] == 6
    assert [h["step"] for h in card["training"]["history"]] == [2, 4, 6]
    assert not (tiny_run.out_dir / RESUME_FILE).exists()  # deleted once the checkpoint is written


def test_a_resume_after_the_loop_ended_goes_straight_to_the_final_save(
    tiny_run: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_final = trainer.final_metrics

    def die(*_args: object) -> None:
        raise Interrupted

    monkeypatch.setattr(trainer, "final_metrics", die)
    with pytest.raises(Interrupted):
        trainer.train(tiny_run, ResumeOptions(every_minutes=0))
    assert resume_mod.load_state(tiny_run.out_dir / RESUME_FILE).done
    monkeypatch.setattr(trainer, "final_metrics", real_final)
    stepped: list[int] = []
    monkeypatch.setattr(trainer, "lr_factor", lambda step, *_a: stepped.append(step) or 0.0)
    result = trainer.train(tiny_run, ResumeOptions(resume=True))
    assert result.steps_run == 6 and stepped == []


def entity(text: str, name: str, label: str) -> EntityExample:
    return EntityExample(text, text.index(name), text.index(name) + len(name), label, "test")


def test_the_continue_stage_resumes_with_its_ema_and_clock(
    tiny_run: TrainConfig, tiny_model: NewsModel, tiny_backbone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = tiny_run.out_dir.parent / "init"
    spec = CheckpointSpec(
        backbone_sha256=sha256_file(weights_file(tiny_backbone)),
        backbone_package=None,
        backbone_path=str(tiny_backbone),
        lora=FULL_FINETUNE,
        max_length=16,
    )
    save_checkpoint(attach_lora(tiny_model, FULL_FINETUNE), spec, init, dtype=torch.float32)
    ents = [entity("apple up as microsoft slides", "apple", "positive")]
    ents.append(entity("apple up as microsoft slides", "microsoft", "negative"))
    monkeypatch.setattr(continued, "build_corpus", tiny_corpus)
    monkeypatch.setattr(continued, "entity_split", lambda *_a: EntitySplit(ents, ents))
    cfg = continued.ContinueConfig(
        data_dir=tiny_run.data_dir,
        init_from=init,
        out_dir=tiny_run.out_dir,
        batch_size=2,
        max_minutes=0.05,  # the stage stops on time only: 3 s of tiny steps
        eval_reserve_minutes=0.0,
    )
    saved = killed_after_saving(monkeypatch, step=3)
    with pytest.raises(Interrupted):
        continued.continue_training(cfg, ResumeOptions(every_minutes=1e-9))
    state = resume_mod.load_state(cfg.out_dir / RESUME_FILE)
    assert state.step == 3 and state.ema is not None and state.best is None
    assert set(state.ema) == set(state.modules["model"])
    report = continued.continue_training(cfg, ResumeOptions(resume=True, every_minutes=0))
    assert report["resumed_from_step"] == 3 and report["steps"] > 3
    assert saved[-1].done and saved[-1].spent_s > saved[-1].budget_s > state.spent_s
    assert not (cfg.out_dir / RESUME_FILE).exists()
    assert json.loads((cfg.out_dir / "continued.json").read_text())["steps"] == report["steps"]


def test_cli_resume_flags(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    commands.register(p.add_subparsers(dest="command"))
    args = p.parse_args(["train", "--out", str(tmp_path), "--resume", "--resume-every", "5"])
    assert commands._resume_options(args) == ResumeOptions(resume=True, every_minutes=5.0)
    assert commands._resume_options(p.parse_args(["train"])) == ResumeOptions()
    args = p.parse_args(["train", "--stage", "entity-head", "--resume"])
    assert commands.run_train(args, Settings()) == 2
