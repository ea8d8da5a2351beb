"""Bytes <-> contracts. Decoding never raises: a failure comes back as data for the DLQ.

Payloads are UTF-8 JSON. A payload that is not UTF-8 is refused (`InvalidUtf8`); JSON string
escapes of lone surrogates (`"\\ud800"`), which the fast parser refuses, are read by the standard
library's parser instead and then replaced with U+FFFD by the contract's sanitising step
(`schemas.sanitize`), so the same item is kept whether it came over HTTP, from a file or Kafka.
Nesting deeper than the parsers' limits is refused with the reason.
"""

from __future__ import annotations

import json
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
        if _is_surrogate_escape(exc):
            return _decode_with_stdlib(text, raw, model, exc)
        return DecodeFailure("ValidationError", _summarise(exc, model), raw)
    except Exception as exc:  # noqa: BLE001 - a validator bug must not stop a consumer: it is data too
        return DecodeFailure(type(exc).__name__, f"cannot decode {model.__name__}: {exc}"[:2_000], raw)


def _is_surrogate_escape(exc: ValidationError) -> bool:
    first = exc.errors()[0]
    return first["type"] == "json_invalid" and "hex escape" in first["msg"]


def _decode_with_stdlib(text: str, raw: bytes, model: type[M], first: ValidationError) -> M | DecodeFailure:
    """The stdlib JSON parser accepts lone-surrogate escapes; the contract then sanitises them."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return DecodeFailure("ValidationError", _summarise(first, model), raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return DecodeFailure("ValidationError", _summarise(exc, model), raw)
    except Exception as exc:  # noqa: BLE001 - as in `decode`
        return DecodeFailure(type(exc).__name__, f"cannot decode {model.__name__}: {exc}"[:2_000], raw)


def _summarise(exc: ValidationError, model: type[BaseModel]) -> str:
    """`invalid RawNews: title: ...; published_at: ...` (a missing derived id is not a problem of its own)."""
    errors = [e for e in exc.errors() if not (e["loc"] == ("id",) and e["type"] == "missing")] or exc.errors()
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in errors[:5]
    )
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"invalid {model.__name__}: {problems}"[:_MAX_REASON_CHARS] + more


_MAX_REASON_CHARS = 2_000
