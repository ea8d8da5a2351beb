"""Request limits for every route, as ASGI middleware: body size, Content-Length, read deadline.

A request that carries a body (POST, PUT, PATCH, or any request with a Content-Length) must say
how long it is: chunked bodies get 411, a declared length over `max_body_bytes` gets 413 before
anything is read. The body is then read in full, within `read_timeout_s` of the request's start
(a slow-loris client gets 408 and the connection is closed), and handed to the app from memory.
The headers' own deadline is the server's (`workers.http.server`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from workers.http.responses import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CLOSE = {"Connection": "close"}


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, read_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if "transfer-encoding" in headers or (declared is None and scope["method"] in BODY_METHODS):
            await error_response(411, "Content-Length required", _CLOSE)(scope, receive, send)
            return
        if declared is None:
            await self.app(scope, receive, send)
            return
        if not declared.strip().isdigit():
            await error_response(400, "Content-Length must be a number of bytes", _CLOSE)(scope, receive, send)
            return
        length = int(declared)
        if length > self.max_body_bytes:
            message = f"body of {length} bytes exceeds the limit of {self.max_body_bytes}"
            await error_response(413, message, _CLOSE)(scope, receive, send)
            return
        body = await self._read(receive, length)
        if body is None:
            message = f"request body not received within {self.read_timeout_s:g}s"
            await error_response(408, message, _CLOSE)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, length: int) -> bytes | None:
        """The whole body, or None when the deadline passed (or the client left)."""
        deadline = time.monotonic() + self.read_timeout_s
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > length:  # the server frames by Content-Length; never buffer beyond it
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that returns the buffered body once, then the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
