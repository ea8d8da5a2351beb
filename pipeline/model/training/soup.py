"""Average the weights of two checkpoints of one lineage (WiSE-FT style weight interpolation).

Both must share the backbone (their encoder deltas are from the same pinned weights), so averaging
the stored fp16 deltas and heads averages the models. Used to trade a continued run's entity gains
against its parent's topic and sentiment figures; the result is promoted like a continued run
(`--stage promote`), its `continued.json` naming both inputs and the weight.

    python -m pipeline.model.training.soup A B --alpha 0.5 --out DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from pipeline.model.checkpoint import DELTA, WEIGHTS


def average(a: Path, b: Path, alpha: float, out: Path) -> None:
    """`out` = (1 - alpha) * a + alpha * b, tensor by tensor (same keys and shapes required)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, DELTA):
        if not (a / name).is_file():
            continue
        ta, tb = load_file(str(a / name)), load_file(str(b / name))
        if ta.keys() != tb.keys():
            raise ValueError(f"{name}: the checkpoints hold different tensors")
        mixed = {k: ((1 - alpha) * ta[k].float() + alpha * tb[k].float()).to(ta[k].dtype) for k in ta}
        save_file({k: v.contiguous() for k, v in mixed.items()}, str(out / name))
    for name in ("spec.json", "labels.json"):
        shutil.copy2(b / name, out / name)
    report = json.loads((b / "continued.json").read_text())
    report["config"] = report["config"] | {"out_dir": str(out)}
    report["soup"] = {"a": a.name, "b": b.name, "alpha_b": alpha}
    (out / "continued.json").write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path, help="a --stage continue output (its continued.json is kept)")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of b")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    average(args.a, args.b, args.alpha, args.out)


if __name__ == "__main__":
    main()
