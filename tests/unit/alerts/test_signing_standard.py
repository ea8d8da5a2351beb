"""Our webhook signatures against a third-party verifier (`standardwebhooks`, the reference
implementation of the spec): accepted when genuine; a replayed (old timestamp) or tampered
message is refused by it and by `alerts.signing.verify` alike."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from alerts.outbox import webhook_id
from alerts.signing import InvalidSignature, headers_for, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = '{"event_id":"e1","status":"firing","topic":"Macro"}'


def signed(timestamp: float) -> dict[str, str]:
    return headers_for(SECRET, webhook_id("e1", "desk"), int(timestamp), BODY)


def test_genuine_message_is_accepted_by_both() -> None:
    headers = signed(time.time())
    assert Webhook(SECRET).verify(BODY, headers) == {"event_id": "e1", "status": "firing", "topic": "Macro"}
    verify(SECRET, headers, BODY)


def test_replayed_message_with_an_old_timestamp_is_refused_by_both() -> None:
    headers = signed(time.time() - 3600)  # captured an hour ago, sent again now
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, headers)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY)


def test_tampered_body_is_refused_by_both() -> None:
    headers = signed(time.time())
    tampered = BODY.replace("Macro", "Energy")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, headers)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, tampered)


def test_another_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(BODY, signed(time.time()))
