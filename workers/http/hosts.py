"""The names this server answers to: a `Host` check against DNS rebinding, and HSTS behind https.

A web page the user opens can make its own name resolve to this server (DNS rebinding) and then
read the answers as its own origin; the browser sends that name as `Host`. `HostCheck` answers
400 to a `Host` that is not one of the server's names (`SiteNames`), before any route runs:

- open access (loopback, no tokens): the loopback names only (`localhost`, `127.0.0.1` and the
  rest of 127/8, `[::1]`), with any port;
- otherwise also the host of `FINSENT_PUBLIC_URL`, the names in `FINSENT_ALLOWED_HOSTS`, and any
  IP address (a rebinding page is always reached by a name; Prometheus scrapes by address).

When `FINSENT_PUBLIC_URL` is https (a TLS proxy in front), every answer carries
`Strict-Transport-Security` and the session cookie is `Secure`, whatever scheme the proxy used.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from workers.http.context import AppContext
from workers.http.limits import ASGIApp, Message, Receive, Scope, Send
from workers.http.responses import error_response

LOOPBACK_NAME: Final = "localhost"
HSTS: Final = "max-age=31536000"
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")
"""`name[:port]` or `[v6][:port]`, lower-cased: character classes only, so matching is linear."""
_CLOSE = {"Connection": "close"}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """`Example.COM.:8080` -> `("example.com", 8080)`, `[::1]` -> `("::1", None)`; None if malformed."""
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    host = match["v6"] or match["name"].rstrip(".")
    if not host or (match["v6"] and _address(host) is None):
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and port > 65_535:
        return None
    return host, port


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """`localhost`, or a loopback address (`127.0.0.0/8`, `::1`); `host` as `split_host` returns it."""
    address = _address(host)
    return host == LOOPBACK_NAME if address is None else address.is_loopback


def origin_of(url: str) -> str | None:
    """`HTTPS://Example.com:443/path` -> `https://example.com`: scheme, host and any non-default
    port, as a browser writes `Origin`; None when `url` has no http(s) scheme or a malformed host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = split_host(parts.netloc.rpartition("@")[2])
    if scheme not in _DEFAULT_PORTS or host is None:
        return None
    name, port = host
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{shown}:{port}"


def _split_names(value: str | None) -> frozenset[str]:
    hosts = (split_host(name) for name in (value or "").split(",") if name.strip())
    return frozenset(host[0] for host in hosts if host is not None)


@dataclass(frozen=True, slots=True)
class SiteNames:
    """The names (and origin) this server is reached by; see the module docstring for the rules."""

    open_access: bool
    public_origin: str | None
    """`FINSENT_PUBLIC_URL`'s origin (`origin_of`)."""
    public_host: str | None
    https: bool
    extra_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_context(cls, context: AppContext) -> SiteNames:
        settings = context.settings
        public = urlsplit(settings.public_url.strip())
        public_host = split_host(public.netloc.rpartition("@")[2])
        return cls(
            open_access=context.open_access,
            public_origin=origin_of(settings.public_url),
            public_host=public_host[0] if public_host else None,
            https=public.scheme.lower() == "https",
            extra_hosts=_split_names(settings.allowed_hosts),
        )

    def allows_host(self, value: str) -> bool:
        """Whether a request with `Host: value` may be served."""
        host = split_host(value)
        if host is None:
            return False
        name = host[0]
        if is_loopback_host(name):
            return True
        if self.open_access:
            return False
        return name == self.public_host or name in self.extra_hosts or _address(name) is not None

    def allows_origin(self, origin: str, host: str) -> bool:
        """Whether a browser page of `origin` may write through a request whose `Host` is `host`:
        the public URL's origin, or else the request's own origin when that is one of the server's
        names (not the public host over http when the public URL is https)."""
        normal = origin_of(origin)
        if normal is None:
            return False
        if normal == self.public_origin:
            return True
        netloc = urlsplit(origin.strip()).netloc.lower()
        own = split_host(netloc)
        if own is None or (self.https and own[0] == self.public_host):
            return False  # an https site's pages are never plain http
        return netloc == host.strip().lower() and self.allows_host(netloc)


def site_names(connection: HTTPConnection) -> SiteNames:
    """The `SiteNames` of the app serving a request (`create_app` keeps them on `app.state`)."""
    names: SiteNames = connection.app.state.site_names
    return names


class HostCheck:
    """ASGI middleware: 400 for a `Host` that `names` refuses; HSTS on every answer when https."""

    def __init__(self, app: ASGIApp, *, names: SiteNames) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.names.https:
            send = _with_hsts(send)
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"]
        if len(hosts) > 1 or (hosts and not self.names.allows_host(hosts[0])):
            message = "this server does not answer to that Host (see FINSENT_PUBLIC_URL, FINSENT_ALLOWED_HOSTS)"
            await error_response(400, message, _CLOSE)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _with_hsts(send: Send) -> Send:
    async def send_with_hsts(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"strict-transport-security" for k, _ in headers):
                headers.append((b"strict-transport-security", HSTS.encode("ascii")))
            message["headers"] = headers
        await send(message)

    return send_with_hsts
