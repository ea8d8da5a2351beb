"""Standard Webhooks signatures: the reference vector, tampering, old timestamps."""

from __future__ import annotations

import pytest

from alerts.signing import InvalidSignature, headers_for, sign, verify

# The test vector of the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_reference_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_verify_accepts_and_is_case_insensitive() -> None:
    headers = headers_for(SECRET, MSG_ID, TIMESTAMP, BODY)
    verify(SECRET, headers, BODY.encode(), now=TIMESTAMP + 10)
    verify(SECRET, {k.title(): v for k, v in headers.items()}, BODY, now=TIMESTAMP)
    rotated = {**headers, "webhook-signature": "v1,bm90IGl0 " + headers["webhook-signature"]}
    verify(SECRET, rotated, BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"body": BODY.replace("2432", "2433")}, "no matching signature"),
        ({"secret": "whsec_" + "A" * 32}, "no matching signature"),
        ({"now": TIMESTAMP + 301}, "tolerance"),
        ({"now": TIMESTAMP - 301}, "tolerance"),
        ({"headers": {"webhook-id": MSG_ID}}, "missing"),
        (
            {
                "headers": {
                    "webhook-id": "msg_other",
                    "webhook-timestamp": str(TIMESTAMP),
                    "webhook-signature": EXPECTED,
                }
            },
            "no matching",
        ),
    ],
)
def test_verify_rejects(change: dict[str, object], match: str) -> None:
    kwargs: dict[str, object] = {
        "secret": SECRET,
        "headers": headers_for(SECRET, MSG_ID, TIMESTAMP, BODY),
        "body": BODY,
        "now": TIMESTAMP,
    }
    kwargs.update(change)
    with pytest.raises(InvalidSignature, match=match):
        verify(kwargs["secret"], kwargs["headers"], kwargs["body"], now=kwargs["now"])  # type: ignore[arg-type]


def test_plain_string_secret() -> None:
    headers = headers_for("s3cret", "msg_1", 100, b"{}")
    verify("s3cret", headers, b"{}", now=100)
    with pytest.raises(InvalidSignature):
        verify("other", headers, b"{}", now=100)
