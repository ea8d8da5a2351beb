"""Bytes <-> contracts. Decoding never raises: a failure comes back as data for the DLQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why `raw` could not be decoded; route it to the DLQ with `reason`."""

    error_type: str
    reason: str
    raw: bytes


def encode(message: BaseModel) -> bytes:
    """Serialise a contract to UTF-8 JSON bytes."""
    return message.model_dump_json().encode("utf-8")


def decode(raw: bytes | None, model: type[M]) -> M | DecodeFailure:
    """Parse `raw` as `model`, or describe why it is not one."""
    if raw is None:
        return DecodeFailure("EmptyMessage", "message has no value (tombstone)", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DecodeFailure("InvalidUtf8", f"payload is not valid UTF-8: {exc}", raw)
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        return DecodeFailure("ValidationError", _summarise(exc, model), raw)


def _summarise(exc: ValidationError, model: type[BaseModel]) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
    )
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"invalid {model.__name__}: {problems}{more}"
