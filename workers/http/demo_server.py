"""`finsent demo --serve`: after the demo, serve its database with the API and the dashboard.

`DemoServer.prepare(settings, database_url)` binds the port first (so the summary line can name
it), creates two tokens for this run only (a dashboard token with `read` + `admin`, and a `read`
API token) and builds the app over the demo's database and rules; `serve()` blocks until Ctrl-C.
The summary gains `dashboard_url` (a Jupyter-style `http://HOST:PORT/login?token=...` link that
signs the browser in and opens the overview) and `api_token`.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pipeline.api_tokens import TokenRegistry, create_token
from pipeline.config import Settings
from pipeline.db import make_engine
from workers.http.server import bind, make_server
from workers.lifecycle import stop_on_signals

log = logging.getLogger(__name__)


@dataclass
class DemoServer:
    settings: Settings
    database_url: str
    sock: socket.socket
    dashboard_token: str
    api_token: str
    registry: TokenRegistry

    @classmethod
    def prepare(cls, settings: Settings, database_url: str, *, host: str, port: int) -> DemoServer:
        """Bind `host:port` (a free port when it is taken or 0) and create this run's tokens."""
        try:
            sock = bind(host, port)
        except OSError:
            log.info("port %d is taken; serving on a free port", port)
            sock = bind(host, 0)
        dashboard, dashboard_entry = create_token("demo-dashboard", ["read", "admin"])
        api, api_entry = create_token("demo-api", ["read"])
        return cls(settings, database_url, sock, dashboard, api, TokenRegistry([dashboard_entry, api_entry]))

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def summary(self) -> dict[str, Any]:
        return {"dashboard_url": f"{self.url}/login?token={self.dashboard_token}", "api_token": self.api_token}

    def serve(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn's own handlers), then release the port."""
        from alerts.rules import DEMO_RULES_PATH
        from workers.http import AppContext
        from workers.http.analyst import create_analyst_app

        engine = make_engine(self.database_url, statement_timeout_ms=self.settings.db_statement_timeout_ms)

        def database_ok() -> bool:
            with engine.connect():
                return True

        settings = self.settings.model_copy(update={"rules_path": DEMO_RULES_PATH})
        context = AppContext(
            settings=settings, tokens=self.registry, engine=engine, health_checks={"database": database_ok}
        )
        server = make_server(
            create_analyst_app(context), host=self.sock.getsockname()[0], port=self.sock.getsockname()[1],
            read_timeout_s=settings.http_read_timeout_s, forwarded_allow_ips=settings.forwarded_allow_ips,
        )
        log.info("serving the demo at %s until Ctrl-C (API docs at %s/docs)", self.url, self.url)
        stopped = threading.Event()  # uvicorn handles Ctrl-C, then re-raises it: that lands here, not as an error
        try:
            with stop_on_signals(stopped):
                server.run(sockets=[self.sock])
        finally:
            self.sock.close()
            engine.dispose()
