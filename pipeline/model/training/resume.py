"""Resumable training stages: `OUT/resume.pt`, saved every few minutes and at the end of the loop.

A `TrainingState` holds what a stage's loop needs to go on where it stopped: the trainable tensors of
each module (the frozen ones are rebuilt from the backbone / `--init-from`, as at the start), the
optimizer state, the EMA weights (continue stage), the best dev checkpoint so far (base stage), the
step, the training seconds already spent (the LR decays over the time budget, so the elapsed-time
fraction continues from `spent_s`, not from 0), the torch / Python / NumPy RNG states and the config.
A resume with a different config is refused ([M041]); only `threads` may differ.

The task sampler is re-seeded from (seed, step) (`sampler_seed`), so the batches after a resume point
are deterministic, but not the ones an uninterrupted run would have drawn: a resumed run is not
bit-identical to an uninterrupted one (nor is any time-budgeted run: its LR follows the clock).

`Resumer` is the stage's handle on the file: `begin` loads it (`--resume`) or says a fresh start
ignores it, `due` / `save` write it atomically (temp file + `os.replace`), `complete` deletes it once
the stage has written its checkpoint (the checkpoint is the result).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

RESUME_FILE = "resume.pt"
MAY_DIFFER = frozenset({"threads"})
"""Config fields a resumed run may change: they decide how fast, not what is trained."""


class ResumeError(ValueError):
    """A resume that cannot go on: no state file ([M040]), another config ([M041]) or another
    network ([M042])."""


@dataclass(frozen=True)
class ResumeOptions:
    """`--resume` and `--resume-every` (minutes between saves; 0 = only at the end of the loop)."""

    resume: bool = False
    every_minutes: float = 10.0


@dataclass(frozen=True)
class RngState:
    """The global RNGs a training step draws from (dropout, shuffles)."""

    torch: torch.Tensor
    python: tuple[Any, ...]
    numpy: tuple[Any, ...]
    cuda: list[torch.Tensor] | None = None

    @classmethod
    def capture(cls) -> RngState:
        name, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
        return cls(
            torch=torch.get_rng_state(),
            python=random.getstate(),
            numpy=(name, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)),
            cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        )

    def restore(self) -> None:
        torch.set_rng_state(self.torch)
        random.setstate(self.python)
        name, keys, pos, has_gauss, gauss = self.numpy
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
        if self.cuda is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self.cuda)


@dataclass(frozen=True)
class Best:
    """The base stage's early-stopping record: best dev score, its step and trainable tensors, evals
    since it last improved, and every dev eval so far (the card's history)."""

    score: float = -1.0
    step: int = 0
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    stale: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingState:
    """Everything `OUT/resume.pt` holds. `done`: the loop had ended (steps, time or early stop) when it
    was saved, so a resume goes straight to the final evaluation and save."""

    config: dict[str, Any]
    step: int
    spent_s: float  # training-loop seconds over all sessions (the LR schedule's clock)
    budget_s: float  # the loop's time budget, fixed by the first session
    wall_s: float  # stage seconds over all sessions, set-up included (the card's minutes)
    modules: dict[str, dict[str, torch.Tensor]]  # module name -> its trainable tensors
    optimizer: dict[str, Any]
    rng: RngState
    ema: dict[str, torch.Tensor] | None = None
    best: Best | None = None
    done: bool = False

    def to_payload(self) -> dict[str, Any]:
        """Plain containers and tensors only, so `torch.load(weights_only=True)` reads it back."""
        rng = self.rng
        best = self.best
        return {
            "version": 1,
            "config": self.config,
            "step": self.step,
            "spent_s": self.spent_s,
            "budget_s": self.budget_s,
            "wall_s": self.wall_s,
            "modules": self.modules,
            "optimizer": self.optimizer,
            "rng": {"torch": rng.torch, "python": rng.python, "numpy": rng.numpy, "cuda": rng.cuda},
            "ema": self.ema,
            "best": None
            if best is None
            else {
                "score": best.score,
                "step": best.step,
                "state": best.state,
                "stale": best.stale,
                "history": best.history,
            },
            "done": self.done,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> TrainingState:
        best = data["best"]
        return cls(
            config=dict(data["config"]),
            step=int(data["step"]),
            spent_s=float(data["spent_s"]),
            budget_s=float(data["budget_s"]),
            wall_s=float(data["wall_s"]),
            modules=dict(data["modules"]),
            optimizer=dict(data["optimizer"]),
            rng=RngState(**data["rng"]),
            ema=data["ema"],
            best=None if best is None else Best(**best),
            done=bool(data["done"]),
        )


class TrainClock:
    """Training seconds across sessions: `spent_before + (now - t_resume)`; the LR schedule's
    elapsed fraction is `spent / budget_s`."""

    def __init__(
        self, budget_s: float, spent_before: float = 0.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget_s = budget_s
        self.spent_before = spent_before
        self._now = now
        self._t_resume = now()

    def spent(self) -> float:
        return self.spent_before + (self._now() - self._t_resume)

    def fraction(self) -> float:
        """Share of the time budget used (the budget floored at 1 s, as the stages always did)."""
        return self.spent() / max(1.0, self.budget_s)

    def out_of_time(self) -> bool:
        return self.spent() > self.budget_s


def sampler_seed(seed: int, step: int) -> int:
    """The task sampler's seed for a loop starting after `step`: `seed` itself for a fresh run (so it
    draws the batches it always drew), else a 63-bit hash of (seed, step)."""
    if step == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def normalised(config: Mapping[str, Any]) -> dict[str, Any]:
    """JSON form of a config's `to_dict()` (tuples as lists, paths as strings), as compared."""
    return json.loads(json.dumps(dict(config), default=str))


def config_differences(
    saved: Mapping[str, Any], current: Mapping[str, Any], may_differ: Collection[str] = MAY_DIFFER
) -> list[str]:
    """`field: saved -> now` for every field (but `may_differ`) whose values differ."""
    a, b = normalised(saved), normalised(current)

    def shown(d: dict[str, Any], k: str) -> str:
        return repr(d[k]) if k in d else "(absent)"

    return [
        f"{k}: {shown(a, k)} -> {shown(b, k)}"
        for k in sorted(a.keys() | b.keys())
        if k not in may_differ and (k not in a or k not in b or a[k] != b[k])
    ]


def trainable_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's trainable parameters (live tensors, detached: save them before the next step)."""
    return {n: p.detach() for n, p in module.named_parameters() if p.requires_grad}


def load_trainable(module: nn.Module, name: str, tensors: Mapping[str, torch.Tensor]) -> None:
    """Copy saved trainable tensors into `module`; [M042] unless they are exactly its trainable set."""
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}
    if set(params) != set(tensors):
        odd = sorted(set(params) ^ set(tensors))
        raise ResumeError(f"[M042] {RESUME_FILE}'s {name} does not match the network: {odd[:5]}")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(tensors[n])


def capture(
    config: Mapping[str, Any],
    step: int,
    clock: TrainClock,
    wall_s: float,
    modules: Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    ema: dict[str, torch.Tensor] | None = None,
    best: Best | None = None,
    done: bool = False,
) -> TrainingState:
    """The loop's state now (live tensors: save it before the next step)."""
    return TrainingState(
        config=normalised(config),
        step=step,
        spent_s=clock.spent(),
        budget_s=clock.budget_s,
        wall_s=wall_s,
        modules={k: trainable_tensors(m) for k, m in modules.items()},
        optimizer=optimizer.state_dict(),
        rng=RngState.capture(),
        ema=ema,
        best=best,
        done=done,
    )


def restore(state: TrainingState, modules: Mapping[str, nn.Module], optimizer: torch.optim.Optimizer) -> None:
    """Put the saved tensors, optimizer state and RNG states back (the EMA and `best` are the
    caller's: `state.ema`, `state.best`). Call after building the network, before the loop."""
    if set(modules) != set(state.modules):
        raise ResumeError(
            f"[M042] {RESUME_FILE} holds modules {sorted(state.modules)}, not {sorted(modules)}"
        )
    for name, module in modules.items():
        load_trainable(module, name, state.modules[name])
    optimizer.load_state_dict(state.optimizer)
    state.rng.restore()


def save_state(path: Path, state: TrainingState) -> None:
    """Write `path` atomically: a crash mid-save leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state.to_payload(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> TrainingState:
    """Read `path` (tensors and plain containers only: `weights_only=True`)."""
    return TrainingState.from_payload(torch.load(path, map_location="cpu", weights_only=True))


class Resumer:
    """One stage's `OUT/resume.pt`: loaded by `begin`, written by `save` when `due` and at the end
    of the loop, deleted by `complete`."""

    def __init__(
        self,
        out_dir: Path,
        config: Mapping[str, Any],
        options: ResumeOptions,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = out_dir / RESUME_FILE
        self.config = normalised(config)
        self.options = options
        self._now = now
        self._last_save = now()

    def begin(self) -> TrainingState | None:
        """The saved state with `--resume` ([M040] if there is none, [M041] if its config differs);
        without it None, logging that an existing file will be overwritten."""
        if not self.options.resume:
            if self.path.is_file():
                log.info("starting fresh: ignoring %s (pass --resume to continue from it)", self.path)
            return None
        if not self.path.is_file():
            raise ResumeError(f"[M040] --resume: no {RESUME_FILE} in {self.path.parent}")
        state = load_state(self.path)
        diff = config_differences(state.config, self.config)
        if diff:
            raise ResumeError(
                f"[M041] --resume: {self.path} was written with another config ({'; '.join(diff)}); "
                f"only {', '.join(sorted(MAY_DIFFER))} may change (run without --resume to start afresh)"
            )
        log.info(
            "resuming from %s: step %d, %.1f of %.1f training minutes spent%s",
            self.path,
            state.step,
            state.spent_s / 60,
            state.budget_s / 60,
            " (loop already ended)" if state.done else "",
        )
        self._last_save = self._now()
        return state

    def due(self) -> bool:
        """Whether `every_minutes` have passed since the last save (or the start)."""
        every = self.options.every_minutes
        return every > 0 and self._now() - self._last_save >= every * 60

    def save(self, state: TrainingState) -> None:
        save_state(self.path, state)
        self._last_save = self._now()
        log.info("saved %s at step %d", self.path, state.step)

    def complete(self) -> None:
        """The stage wrote its checkpoint: the resume file is no longer needed."""
        self.path.unlink(missing_ok=True)
