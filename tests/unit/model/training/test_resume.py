"""`training.resume`: a tiny loop saved, resumed and continued; config checks; atomic saves."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.model.training import resume as resume_mod
from pipeline.model.training.resume import (
    RESUME_FILE,
    Best,
    ResumeError,
    ResumeOptions,
    Resumer,
    TrainClock,
    capture,
    config_differences,
    load_state,
    restore,
    sampler_seed,
)

CONFIG = {"seed": 13, "lr": 1e-3, "threads": 1, "out_dir": Path("/x"), "boost": (("a", 1.0),)}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def tiny() -> tuple[nn.Module, torch.optim.Optimizer]:
    """A frozen layer (the "backbone": the same in every process), dropout (draws from the torch RNG)
    and a trained layer (initialised from the global RNG), under AdamW."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    backbone = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model[0].parameters():
            p.copy_(torch.randn(p.shape, generator=backbone)).requires_grad_(False)
    return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)


def step_once(model: nn.Module, optim: torch.optim.Optimizer, step: int) -> None:
    x = torch.arange(8.0).reshape(2, 4) / (step + 1)
    loss = model(x).pow(2).sum()
    loss.backward()
    optim.step()
    optim.zero_grad()


def test_a_resumed_loop_goes_on_with_its_step_clock_optimizer_and_rng(tmp_path: Path) -> None:
    clock_now = FakeClock()
    torch.manual_seed(0)
    model, optim = tiny()
    resumer = Resumer(tmp_path, CONFIG, ResumeOptions(every_minutes=10), now=clock_now)
    assert resumer.begin() is None
    clock = TrainClock(budget_s=600.0, now=clock_now)
    for step in range(1, 4):
        step_once(model, optim, step)
        clock_now.t += 30
    assert not resumer.due()
    clock_now.t += 600
    assert resumer.due()
    best = Best(0.5, 2, {"x": torch.ones(2)}, 1, [{"step": 2, "score": 0.5}])
    resumer.save(capture(CONFIG, 3, clock, 12.0, {"model": model}, optim, best=best))
    assert not resumer.due() and (tmp_path / RESUME_FILE).is_file()
    # the uninterrupted run's next two steps (dropout included)
    for step in (4, 5):
        step_once(model, optim, step)
    expected = [p.detach().clone() for p in model.parameters()]

    torch.manual_seed(99)  # another process: other initial weights and RNG
    model2, optim2 = tiny()
    clock_now.t += 3600  # the machine was off for an hour
    state = Resumer(tmp_path, CONFIG | {"threads": 2}, ResumeOptions(resume=True), now=clock_now).begin()
    assert state is not None and state.step == 3 and state.wall_s == 12.0 and not state.done
    assert state.best is not None and state.best.step == 2 and state.best.history == best.history
    assert state.spent_s == pytest.approx(690.0) and state.budget_s == 600.0
    restore(state, {"model": model2}, optim2)
    assert set(state.modules["model"]) == {"2.weight", "2.bias"}  # frozen tensors are rebuilt, not saved
    assert optim2.state_dict()["state"][0]["step"] == 3
    resumed = TrainClock(state.budget_s, state.spent_s, now=clock_now)
    clock_now.t += 60
    assert resumed.spent() == pytest.approx(750.0)  # spent before + time since the resume, not the hour off
    assert resumed.fraction() == pytest.approx(1.25) and resumed.out_of_time()
    for step in (4, 5):
        step_once(model2, optim2, step)
    for p, q in zip(model2.parameters(), expected, strict=True):
        assert torch.equal(p, q)


def test_resume_without_the_optimizer_state_would_differ(tmp_path: Path) -> None:
    """Guards the test above: a fresh AdamW on the restored weights takes another step."""
    torch.manual_seed(0)
    model, optim = tiny()
    for step in range(1, 4):
        step_once(model, optim, step)
    Resumer(tmp_path, CONFIG, ResumeOptions()).save(
        capture(CONFIG, 3, TrainClock(600.0), 0.0, {"model": model}, optim)
    )
    step_once(model, optim, 4)
    model2, optim2 = tiny()
    state = load_state(tmp_path / RESUME_FILE)
    restore(state, {"model": model2}, optim2)
    fresh = torch.optim.AdamW([p for p in model2.parameters() if p.requires_grad], lr=0.1)
    step_once(model2, fresh, 4)
    assert not torch.equal(model2[2].weight, model[2].weight)


def test_rng_states_round_trip_through_the_file(tmp_path: Path) -> None:
    model, optim = tiny()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    Resumer(tmp_path, CONFIG, ResumeOptions()).save(
        capture(CONFIG, 1, TrainClock(1.0), 0.0, {"model": model}, optim)
    )
    drawn = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    load_state(tmp_path / RESUME_FILE).rng.restore()
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == drawn


def test_another_config_is_refused_with_every_differing_field(tmp_path: Path) -> None:
    model, optim = tiny()
    Resumer(tmp_path, CONFIG, ResumeOptions()).save(
        capture(CONFIG, 1, TrainClock(1.0), 0.0, {"model": model}, optim)
    )
    changed = CONFIG | {"lr": 2e-3, "seed": 14, "threads": 2, "new": True}
    with pytest.raises(ResumeError, match=r"\[M041\]") as err:
        Resumer(tmp_path, changed, ResumeOptions(resume=True)).begin()
    message = str(err.value)
    assert "lr: 0.001 -> 0.002" in message and "seed: 13 -> 14" in message
    assert "new: (absent) -> True" in message and "threads:" not in message


def test_config_differences_compare_json_forms() -> None:
    assert config_differences(CONFIG, dict(CONFIG) | {"boost": [["a", 1.0]], "out_dir": "/x"}) == []
    assert config_differences({"threads": 1}, {"threads": 2}) == []
    assert config_differences({"a": {"x": 1}}, {"a": {"x": 2}}) == ["a: {'x': 1} -> {'x': 2}"]


def test_resume_without_a_state_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResumeError, match=r"\[M040\].*no resume.pt"):
        Resumer(tmp_path, CONFIG, ResumeOptions(resume=True)).begin()


def test_a_fresh_start_says_it_ignores_an_old_state_and_complete_deletes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / RESUME_FILE).write_bytes(b"old")
    resumer = Resumer(tmp_path, CONFIG, ResumeOptions())
    with caplog.at_level(logging.INFO, logger=resume_mod.__name__):
        assert resumer.begin() is None
    assert "starting fresh" in caplog.text
    resumer.complete()
    assert not (tmp_path / RESUME_FILE).exists()


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch) -> None:
    model, optim = tiny()
    resumer = Resumer(tmp_path, CONFIG, ResumeOptions())
    resumer.save(capture(CONFIG, 1, TrainClock(1.0), 0.0, {"model": model}, optim))

    def half_written(obj: object, handle) -> None:  # noqa: ANN001
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(resume_mod.torch, "save", half_written)
    with pytest.raises(OSError, match="disk full"):
        resumer.save(capture(CONFIG, 2, TrainClock(1.0), 0.0, {"model": model}, optim))
    monkeypatch.undo()
    assert load_state(tmp_path / RESUME_FILE).step == 1
    assert [p.name for p in tmp_path.iterdir()] == [RESUME_FILE]


def test_restore_refuses_another_network(tmp_path: Path) -> None:
    model, optim = tiny()
    state = capture(CONFIG, 1, TrainClock(1.0), 0.0, {"model": model}, optim)
    other = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(ResumeError, match=r"\[M042\]"):
        restore(state, {"model": other}, torch.optim.AdamW(other.parameters()))
    with pytest.raises(ResumeError, match=r"\[M042\]"):
        restore(state, {"model": model, "weighting": nn.Linear(1, 1)}, optim)


def test_every_zero_saves_only_at_the_end() -> None:
    now = FakeClock()
    resumer = Resumer(Path("/nonexistent"), CONFIG, ResumeOptions(every_minutes=0), now=now)
    now.t += 1e6
    assert not resumer.due()


def test_the_sampler_seed_is_the_run_seed_for_a_fresh_run_and_fixed_per_resume_point() -> None:
    assert sampler_seed(13, 0) == 13
    assert sampler_seed(13, 500) == sampler_seed(13, 500) != sampler_seed(13, 501)
    assert sampler_seed(13, 500) != sampler_seed(14, 500)
    assert 0 <= sampler_seed(13, 500) < 2**63
