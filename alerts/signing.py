"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for senders and receivers.

Headers: `webhook-id` (msg_..., the same on every retry), `webhook-timestamp` (unix seconds of
the attempt) and `webhook-signature` = `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")),
space-separated when several keys are valid (rotation). A secret `whsec_<base64>` uses the decoded
bytes as the key; any other secret string is used as UTF-8 bytes.

Receivers: `verify(secret, headers, body)` raises `InvalidSignature` or returns None.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Final

SECRET_PREFIX: Final = "whsec_"
VERSION: Final = "v1"
DEFAULT_TOLERANCE_S: Final = 300


class InvalidSignature(ValueError):
    """[ALR020] The webhook's signature, timestamp or headers do not check out."""


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: the decoded bytes of `whsec_<base64>`, else the UTF-8 bytes."""
    if isinstance(secret, bytes):
        return secret
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except ValueError as exc:
            raise ValueError("[ALR021] a whsec_ secret must be base64 after the prefix") from exc
    return secret.encode("utf-8")


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The `webhook-signature` header value (`v1,<base64>`) of one message."""
    payload = body.encode("utf-8") if isinstance(body, str) else body
    signed = f"{msg_id}.{int(timestamp)}.".encode() + payload
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def headers_for(secret: str | bytes, msg_id: str, timestamp: int, body: str | bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: str | bytes,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> None:
    """Check a received webhook; raise `InvalidSignature` if it was not signed with `secret`,
    was tampered with, or its timestamp is more than `tolerance_s` from `now` (default: time.time()).
    Header names are matched case-insensitively.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    timestamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise InvalidSignature("[ALR020] missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise InvalidSignature(f"[ALR020] webhook-timestamp is not an integer: {timestamp!r}") from exc
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        raise InvalidSignature(
            f"[ALR020] webhook-timestamp {sent_at} is outside the {tolerance_s}s tolerance"
        )
    expected = sign(secret, msg_id, sent_at, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == VERSION and hmac.compare_digest(value, expected):
            return
    raise InvalidSignature("[ALR020] no matching signature")
