"""pipeline.ingest.fetch without a network: address classes, redirect hops, body decoding and caps."""

from __future__ import annotations

import gzip
import ipaddress
import zlib
from collections.abc import Iterator

import httpx
import pytest

from pipeline.ingest.fetch import FetchPolicy, FetchRefused, fetch, is_public


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_policy_from_settings() -> None:
    policy = FetchPolicy.from_settings(False, " Intranet.Example , feeds.local,")
    assert policy.allow_hosts == {"intranet.example", "feeds.local"}
    assert not policy.checks("INTRANET.example.") and policy.checks("other.example")
    assert not FetchPolicy.from_settings(True, None).checks("anything")


def serve(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


@pytest.mark.parametrize(
    "location", ["http://[::1]/x", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]
)
def test_a_redirect_hop_is_checked_before_it_is_requested(location: str) -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(302, headers={"Location": location})

    with serve(httpx.MockTransport(answer)) as client, pytest.raises(FetchRefused):
        fetch(client, "http://93.184.216.34/feed", {}, FetchPolicy())
    assert asked == ["http://93.184.216.34/feed"]


class Chunks(httpx.SyncByteStream):
    """A response body sent in 1 KiB chunks (a bytes `content=` would be read at once)."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.content), 1024):
            yield self.content[start : start + 1024]


def body_of(content: bytes, encoding: str, policy: FetchPolicy | None = None, length: bool = True) -> bytes:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == "gzip, deflate"
        headers = {"Content-Encoding": encoding} | ({"Content-Length": str(len(content))} if length else {})
        return httpx.Response(200, headers=headers, stream=Chunks(content))

    with serve(httpx.MockTransport(answer)) as client:
        return fetch(client, "http://93.184.216.34/feed", {}, policy or FetchPolicy()).body


def test_bodies_are_decoded_here() -> None:
    text = b"<rss>" + b"x" * 100_000 + b"</rss>"
    assert body_of(text, "") == text
    assert body_of(gzip.compress(text), "gzip") == text
    assert body_of(zlib.compress(text), "deflate") == text


def test_caps_count_decoded_and_raw_bytes() -> None:
    small = FetchPolicy(max_bytes=1000, max_raw_bytes=1000)
    with pytest.raises(FetchRefused, match="1000 bytes once decoded"):
        body_of(gzip.compress(bytes(5000)), "gzip", small)
    with pytest.raises(FetchRefused, match="declares 5000 bytes, more than 1000"):
        body_of(bytes(5000), "identity", small)
    with pytest.raises(FetchRefused, match="feed larger than 1000 bytes$"):  # raw count, no length sent
        body_of(bytes(2000), "identity", FetchPolicy(max_bytes=10_000, max_raw_bytes=1000), length=False)


@pytest.mark.parametrize(
    ("content", "encoding"), [(b"abc", "br"), (b"abc", "gzip, gzip"), (b"not gzip", "gzip")]
)
def test_unknown_or_corrupt_encodings_are_refused(content: bytes, encoding: str) -> None:
    with pytest.raises(FetchRefused):
        body_of(content, encoding)
