"""What the dispatcher keeps of a receiver's answer: a capped read of its body (never inflated),
as one short line of printable text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from alerts.dispatcher import MAX_ERROR_CHARS, MAX_RESPONSE_BYTES, error_text, read_body


def _endless() -> Iterator[bytes]:
    while True:
        yield b"x" * 1000


@contextmanager
def _streamed(headers: dict[str, str], chunks: Iterator[bytes]) -> Iterator[httpx.Response]:
    pulled: list[int] = []

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            pulled.append(len(chunk))
            yield chunk

    transport = httpx.MockTransport(lambda request: httpx.Response(500, headers=headers, content=body()))
    with (
        httpx.Client(transport=transport) as client,
        client.stream("POST", "http://receiver/hook") as response,
    ):
        yield response
    assert sum(pulled) <= MAX_RESPONSE_BYTES + 1000


def test_an_endless_body_is_read_up_to_the_cap() -> None:
    with _streamed({"content-type": "text/plain"}, _endless()) as response:
        assert read_body(response, timeout_s=5) == "x" * MAX_RESPONSE_BYTES


def test_a_compressed_body_is_not_inflated() -> None:
    with _streamed({"content-encoding": "gzip"}, _endless()) as response:
        assert read_body(response, timeout_s=5) == "(gzip-encoded body not read)"


def test_undecodable_bytes_and_a_charset_are_honoured() -> None:
    with _streamed({"content-type": "text/plain; charset=latin-1"}, iter([b"caf\xe9"])) as response:
        assert read_body(response, timeout_s=5) == "caf\u00e9"


def test_error_text_is_one_printable_line_cut_to_the_limit() -> None:
    assert (
        error_text("HTTP 500: <b>down</b>\r\nX-Injected: 1\x1b[31m")
        == "HTTP 500: <b>down</b>  X-Injected: 1 [31m"
    )
    long = error_text("HTTP 502: " + "y" * 10_000)
    assert len(long) == MAX_ERROR_CHARS and long.endswith("\u2026")
