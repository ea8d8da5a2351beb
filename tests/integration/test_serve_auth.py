"""Authentication of `finsent serve`: 401 / 403, refusal to serve openly off loopback, no token in logs."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pipeline.config import Settings
from tests.fixtures.ingest import LiveApp
from tests.fixtures.waiting import WAIT_S
from workers.commands import serve as serve_command
from workers.commands import token as token_command

pytestmark = pytest.mark.integration

ITEM = {"title": "Acme beats estimates", "url": "https://example.com/acme"}


def parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="finsent")
    module.register(parser.add_subparsers())  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_no_token_or_an_unknown_one_is_401(live_app: LiveApp) -> None:
    with live_app.client(as_=None) as anonymous:
        missing = anonymous.post("/v1/news", json=ITEM)
        wrong = anonymous.post("/v1/news", json=ITEM, headers={"Authorization": "Bearer fst_not-a-real-token"})
        basic = anonymous.post("/v1/news", json=ITEM, headers={"Authorization": "Basic dXNlcjpwdw=="})
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing credentials" in missing.json()["error"] and wrong.json()["error"] == "invalid token"
    assert live_app.publisher.counts.ingested == 0


@pytest.mark.parametrize("principal", ["reader", "admin"])
def test_a_token_without_the_ingest_scope_is_403(live_app: LiveApp, principal: str) -> None:
    with live_app.client(as_=principal) as client:
        response = client.post("/v1/news", json=ITEM)
    assert response.status_code == 403
    assert response.json()["error"] == f"token {principal!r} lacks the 'ingest' scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_operations_and_docs_need_no_token(live_app: LiveApp) -> None:
    with live_app.client(as_=None) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200


def test_open_access_on_loopback_without_tokens(make_live_app: Callable[..., LiveApp]) -> None:
    app = make_live_app()
    app.context.open_access = True  # what `finsent serve` does on 127.0.0.1 with no tokens configured
    with app.client(as_=None) as anonymous:
        assert anonymous.post("/v1/news", json=ITEM).status_code == 202


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "finsent.example.com"])
def test_non_loopback_without_tokens_is_refused(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(serve_command, "serve", "--host", host, "--port", "0")
    assert serve_command.handle(args, Settings(api_tokens=None, api_tokens_path=None)) == 2
    err = capsys.readouterr().err
    assert f"refusing to listen on {host} with no API tokens configured" in err
    assert "finsent token create --scope ingest" in err


def test_loopback_hosts() -> None:
    assert all(serve_command.is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(serve_command.is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_token_create_prints_the_token_once_and_a_working_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pipeline.api_tokens import load_tokens

    args = parse(token_command, "token", "create", "--scope", "ingest", "--scope", "read", "--name", "desk")
    assert args.handler(args, Settings()) == 0
    text = capsys.readouterr().out
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    token = next(line for line in lines if line.startswith("fst_"))
    entry = next(line for line in lines if line.startswith("desk:"))
    yaml_item = next(line for line in lines if line.startswith("- {name: desk"))
    assert text.count(token) == 1
    principal = load_tokens(entry, None).authenticate(token)
    assert principal is not None and principal.scopes == frozenset({"ingest", "read"})
    path = tmp_path / "tokens.yaml"
    path.write_text(f"tokens:\n  {yaml_item}\n", encoding="utf-8")
    assert load_tokens(None, path).authenticate(token) == principal
    as_json = parse(token_command, "token", "create", "--scope", "admin", "--json")
    assert as_json.handler(as_json, Settings()) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["scopes"] == ["admin"] and created["env"].endswith(created["sha256"])


def test_no_token_value_appears_in_any_log_line(
    live_app: LiveApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Valid, invalid and wrong-scope tokens, in the header and in a query string: none is logged."""
    caplog.set_level(logging.DEBUG)
    secrets = [*live_app.tokens.values(), "fst_guessed-but-wrong-0123456789"]
    hostile = json.dumps({"title": "x\ud800"}).encode()
    with httpx.Client(base_url=live_app.url, timeout=WAIT_S) as client:
        for secret in secrets:
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            client.post("/v1/news", json=ITEM, headers=headers)
            client.post(f"/v1/news?token={secret}", content=hostile, headers=headers)
            client.get(f"/healthz?token={secret}", headers=headers)
    assert any(r.name == "finsent.http" for r in caplog.records), "the access log was captured"
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not the client's
    for record in server_side:
        text = f"{record.getMessage()} {vars(record)}"
        leaked = [s for s in secrets if s in text or s.removeprefix("fst_") in text]
        assert not leaked, f"token in log line from {record.name}: {record.getMessage()}"
