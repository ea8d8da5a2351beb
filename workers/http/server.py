"""uvicorn for the app, with a deadline for request headers (uvicorn has none of its own).

uvicorn's h11 protocol times out idle keep-alive connections but not a client that connects and
then sends its headers slowly, or not at all (slow loris): it would hold the connection forever.
`HeaderDeadlineProtocol` closes such a connection with 408 after `read_timeout_s`; the body's own
deadline is `RequestLimits`'. `ServerThread` runs the app on a pre-bound socket in a thread
(tests, and anything that needs the port before serving).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 1_000
"""Beyond this many open connections a new request is answered 503 (uvicorn's `limit_concurrency`)."""
KEEP_ALIVE_S = 5
GRACEFUL_SHUTDOWN_S = 10

def _timeout_reply() -> bytes:
    body = b'{"error":"request headers not received in time"}'
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol that gives each request `header_timeout_s` to arrive, from its first byte (or
    from the connection, for the first request), and never writes uvicorn's access log."""

    header_timeout_s: float = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's access log writes the raw request target, query string included (a login
        # token may be there); it is on whenever any ancestor logger has a handler. Ours
        # (`workers.http.access`) logs the path only.
        self.access_log = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()  # a request has begun but its headers are not complete
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # idle between requests: uvicorn's keep-alive timeout applies
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.logger.info("closing a connection whose request headers did not arrive in time")
        self.transport.write(_timeout_reply())
        self.transport.close()


def protocol_with_deadline(header_timeout_s: float) -> type[H11Protocol]:
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": header_timeout_s})


def make_server(
    app: Any, *, host: str, port: int, read_timeout_s: float, forwarded_allow_ips: str | None = None
) -> uvicorn.Server:
    """A uvicorn server for `app` (its own access log off: `workers.http.access` logs without query strings).

    `X-Forwarded-For`/`-Proto` set the client address and scheme only on connections from
    `forwarded_allow_ips` (`FINSENT_FORWARDED_ALLOW_IPS`: the TLS proxy's addresses or networks;
    None = uvicorn's default, 127.0.0.1)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_with_deadline(read_timeout_s),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (`port=0`: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto 6: asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """The app served from a daemon thread on `host:port` (`port=0`: a free port, see `.url`)."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        read_timeout_s: float = 15.0,
        forwarded_allow_ips: str | None = None,
    ) -> None:
        self.socket = bind(host, port)
        self.server = make_server(
            app, host=host, port=port, read_timeout_s=read_timeout_s, forwarded_allow_ips=forwarded_allow_ips
        )
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = self.socket.getsockname()[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server did not start within {timeout_s}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(GRACEFUL_SHUTDOWN_S + 5)
        self.socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
