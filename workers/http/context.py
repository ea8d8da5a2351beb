"""`AppContext`: the long-lived parts the request handlers share, built once by `finsent serve`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from fastapi import Request
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from pipeline.api_tokens import Principal, TokenRegistry
from pipeline.config import Settings
from pipeline.ingest.publisher import IngestPublisher
from pipeline.ingest.push import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ITEMS

HealthCheck = Callable[[], bool]
Authenticator = Callable[[Request], Principal | None]
"""Another way to authenticate a request than a bearer token (e.g. a dashboard session cookie)."""


@dataclass
class AppContext:
    """Everything a route needs; `open_access` (loopback with no tokens configured) allows all scopes."""

    settings: Settings
    tokens: TokenRegistry
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    engine: Engine | None = None
    publisher: IngestPublisher | None = None
    health_checks: Mapping[str, HealthCheck] = field(default_factory=dict)
    open_access: bool = False
    authenticators: list[Authenticator] = field(default_factory=list)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_items: int = DEFAULT_MAX_ITEMS
    push_timezone: tzinfo = UTC


def app_context(request: Request) -> AppContext:
    """The context of the app serving `request` (a FastAPI dependency)."""
    context: AppContext = request.app.state.context
    return context
