"""Replay checkpoints: one JSON file per run, written atomically (temp file + fsync + rename).

The run id is a hash of the normalised arguments that decide *what* is replayed (source, filters,
model version), so running the same command again finds the checkpoint and resumes; options that
only decide *how fast* (`--rate`, batch size) do not change it.

A checkpoint holds the source position after the last stored batch (its shape is the source's:
`{"after": [published_at, id]}`, `{"records": n}`, `{"offsets": {partition: next}}`) and the
counts so far. A completed run is marked `completed`; running it again starts from the beginning
(and finds everything already stored: `already_stored`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COUNT_NAMES = ("read", "enriched", "already_stored", "dlq")
_OLD_NAMES = {"already_stored": "deduplicated"}
"""Checkpoints written before the rename still resume with their counts."""


def run_id(arguments: Mapping[str, Any]) -> str:
    """A 16-hex-char id of a replay from its normalised arguments (key order does not matter)."""
    blob = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass
class Checkpoint:
    run_id: str
    arguments: dict[str, Any]
    position: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    batches: int = 0
    completed: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        data = json.loads(text)
        stored = data.get("counts", {})
        counts = {name: int(stored.get(name, stored.get(_OLD_NAMES.get(name, name), 0))) for name in COUNT_NAMES}
        return cls(
            run_id=str(data["run_id"]),
            arguments=dict(data.get("arguments", {})),
            position=data.get("position"),
            counts=counts,
            batches=int(data.get("batches", 0)),
            completed=bool(data.get("completed", False)),
        )


class CheckpointFile:
    """`<folder>/<run-id>.json`; `save` never leaves a half-written file behind."""

    def __init__(self, folder: Path, run: str) -> None:
        self.path = folder / f"{run}.json"

    def load(self) -> Checkpoint | None:
        try:
            return Checkpoint.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError) as exc:
            raise ValueError(f"[RPL001] unreadable replay checkpoint {self.path}: {exc}; use --restart") from exc

    def save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(checkpoint.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
