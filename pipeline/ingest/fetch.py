"""Fetching a feed safely: public addresses only, redirects followed by hand, bodies capped.

- Every hop (the feed URL and each redirect, at most `FetchPolicy.max_redirects`) must be http(s)
  and its host must resolve to public addresses only: not loopback, private, link-local (the
  cloud metadata service at 169.254.169.254), multicast, reserved or unspecified, IPv4 and IPv6
  (IPv4-mapped IPv6 is judged as the IPv4 it maps). `FINSENT_FEEDS_ALLOW_PRIVATE=true` (local test
  servers, the demo) or a host in `FINSENT_FEEDS_ALLOW_HOSTS` (an intranet feed) lifts the check.
- `guarded_client()` checks again where it counts: its network backend resolves the host once,
  checks every address and connects to a checked one, so a DNS answer that changes between the
  check and the connect (rebinding) cannot reach an internal address. It ignores proxy variables.
- The body is read as it arrives and decoded here (gzip / deflate, at most `DECODE_STEP` bytes of
  output per step), so a compression bomb stops at `max_bytes` decoded bytes; raw bytes are capped
  too. Other content encodings are refused (only `gzip, deflate` are asked for).

Refusals raise `FetchRefused`; transport failures stay `httpx.HTTPError`.
"""

from __future__ import annotations

import ipaddress
import socket
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

MAX_FEED_BYTES = 20 * 1024 * 1024
DECODE_STEP = 256 * 1024
"""Most decoded bytes one decompression step may produce (bounds memory per step)."""
READ_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """A fetch stopped by policy: a non-public address, too many redirects, a body over the cap."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Where feeds may be fetched from and how much of them is read."""

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()
    max_redirects: int = 5
    max_bytes: int = MAX_FEED_BYTES
    max_raw_bytes: int = MAX_FEED_BYTES

    @classmethod
    def from_settings(cls, allow_private: bool, allow_hosts: str | None) -> FetchPolicy:
        """From `FINSENT_FEEDS_ALLOW_PRIVATE` and the comma-separated `FINSENT_FEEDS_ALLOW_HOSTS`."""
        hosts = frozenset(h.strip().lower() for h in (allow_hosts or "").split(",") if h.strip())
        return cls(allow_private=allow_private, allow_hosts=hosts)

    def checks(self, host: str) -> bool:
        """Whether `host`'s addresses must be public."""
        return not self.allow_private and host.lower().rstrip(".") not in self.allow_hosts


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def resolve_checked(host: str, port: int, policy: FetchPolicy) -> list[IPAddress]:
    """`host`'s addresses (resolved once), refused unless every one is allowed by `policy`."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if policy.checks(host):
        for address in addresses:
            if not is_public(address):
                raise FetchRefused(
                    f"{host} resolves to {address}, not a public address (allow it with "
                    "FINSENT_FEEDS_ALLOW_HOSTS or FINSENT_FEEDS_ALLOW_PRIVATE=true)"
                )
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, connecting only to addresses `resolve_checked` allowed."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in resolve_checked(host, port, self._policy):
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise FetchRefused("feeds are not fetched over unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An `httpx.HTTPTransport` whose connections go through `GuardedBackend`."""

    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__()
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=5.0)
        # httpx 0.28 takes no network backend: replace the pool it built with one that has ours
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


def guarded_client(policy: FetchPolicy, timeout: httpx.Timeout | float = 20.0) -> httpx.Client:
    """A client for feeds: every connection checked against `policy` (no env proxies)."""
    return httpx.Client(transport=GuardedTransport(policy), timeout=timeout, trust_env=False)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed response: the last hop's URL, status and headers; the decoded body when 200."""

    url: str
    status_code: int
    headers: httpx.Headers
    body: bytes = b""


def check_url(url: httpx.URL, policy: FetchPolicy) -> None:
    """Refuse a hop that is not http(s) or whose host is not allowed (see `resolve_checked`)."""
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchRefused(f"{url}: only http and https URLs are fetched")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        resolve_checked(url.host, port, policy)
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc)) from exc


def fetch(client: httpx.Client, url: str, headers: Mapping[str, str], policy: FetchPolicy) -> Fetched:
    """GET `url`, following up to `policy.max_redirects` redirects, each hop checked first."""
    target = httpx.URL(url)
    asked = {**headers, "Accept-Encoding": "gzip, deflate"}
    for _ in range(policy.max_redirects + 1):
        check_url(target, policy)
        with client.stream("GET", target, headers=asked, follow_redirects=False) as response:
            if response.has_redirect_location:
                target = response.url.join(response.headers["Location"])
                continue
            body = read_capped(response, policy) if response.status_code == 200 else b""
            return Fetched(str(response.url), response.status_code, response.headers, body)
    raise FetchRefused(f"{url}: more than {policy.max_redirects} redirects")


def read_capped(response: httpx.Response, policy: FetchPolicy) -> bytes:
    """The decoded body, read chunk by chunk; refused once raw or decoded bytes pass the caps."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_raw_bytes:
        raise FetchRefused(f"feed declares {declared} bytes, more than {policy.max_raw_bytes}")
    decoder = _Decoder(response.headers.get("Content-Encoding", ""))
    body = bytearray()
    raw = 0
    for chunk in response.iter_raw(READ_CHUNK):
        raw += len(chunk)
        if raw > policy.max_raw_bytes:
            raise FetchRefused(f"feed larger than {policy.max_raw_bytes} bytes")
        for piece in decoder.decode(chunk):
            body += piece
            if len(body) > policy.max_bytes:
                raise FetchRefused(f"feed larger than {policy.max_bytes} bytes once decoded")
    return bytes(body)


class _Decoder:
    """Incremental gzip / deflate / identity decoding with bounded output per step."""

    def __init__(self, encoding: str) -> None:
        name = encoding.strip().lower()
        if name in ("", "identity"):
            self._zlib = None
        elif name in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        else:
            raise FetchRefused(f"unsupported Content-Encoding {encoding!r}")

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield data
            return
        while data and not self._zlib.eof:
            try:
                out = self._zlib.decompress(data, DECODE_STEP)
            except zlib.error as exc:
                raise FetchRefused(f"body is not valid compressed data: {exc}") from exc
            data = self._zlib.unconsumed_tail
            if out:
                yield out
