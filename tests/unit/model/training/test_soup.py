"""Weight averaging of two checkpoints of one lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipeline.model.checkpoint import DELTA, WEIGHTS
from pipeline.model.training.soup import average


def checkpoint(path: Path, value: float, report: dict[str, object] | None = None) -> Path:
    path.mkdir()
    save_file({"head.w": torch.full((2,), value, dtype=torch.float16)}, str(path / WEIGHTS))
    save_file({"encoder.x": torch.full((3,), 2 * value, dtype=torch.float16)}, str(path / DELTA))
    (path / "spec.json").write_text("{}")
    (path / "labels.json").write_text("{}")
    (path / "continued.json").write_text(json.dumps(report or {"config": {"out_dir": str(path)}}))
    return path


def test_average_mixes_every_tensor_and_records_the_inputs(tmp_path: Path) -> None:
    a, b = checkpoint(tmp_path / "a", 1.0), checkpoint(tmp_path / "b", 3.0)
    average(a, b, 0.25, tmp_path / "out")
    assert load_file(str(tmp_path / "out" / WEIGHTS))["head.w"].tolist() == [1.5, 1.5]
    assert load_file(str(tmp_path / "out" / DELTA))["encoder.x"].tolist() == [3.0, 3.0, 3.0]
    assert json.loads((tmp_path / "out" / "continued.json").read_text())["soup"] == {
        "a": "a",
        "b": "b",
        "alpha_b": 0.25,
    }


def test_checkpoints_with_different_tensors_are_refused(tmp_path: Path) -> None:
    a, b = checkpoint(tmp_path / "a", 1.0), checkpoint(tmp_path / "b", 3.0)
    save_file({"other": torch.zeros(2)}, str(b / WEIGHTS))
    with pytest.raises(ValueError, match="different tensors"):
        average(a, b, 0.5, tmp_path / "out")
