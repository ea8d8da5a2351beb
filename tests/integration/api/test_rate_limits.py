"""Rate limits on the live app: sign-in attempts per client address and requests per token get 429
with `Retry-After` (an HTML page for the login form, JSON for the API); one token's flood leaves
the others alone; a token's sign-ins push out only its own oldest sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.api_tokens import TokenRegistry, create_token
from pipeline.config import Settings
from pipeline.db import make_engine, migrate
from tests.fixtures.waiting import WAIT_S
from workers.http import AppContext
from workers.http.analyst import create_analyst_app
from workers.http.server import ServerThread
from workers.http.sessions import MAX_SESSIONS_PER_TOKEN

pytestmark = pytest.mark.integration


def _serve(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'finsent.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    values, entries = {}, []
    for name, scopes in {"reader": ["read"], "desk": ["read", "admin"]}.items():
        values[name], entry = create_token(name, scopes)
        entries.append(entry)
    context = AppContext(settings=settings, tokens=TokenRegistry(entries), engine=engine)
    server = ServerThread(create_analyst_app(context)).start()
    try:
        yield server.url, values
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """3 sign-ins a minute per address; 5 requests at once per token, then one every 100 s."""
    yield from _serve(tmp_path, Settings(rate_login_per_min=3, rate_token_per_s=0.01, rate_token_burst=5))


@pytest.fixture
def roomy(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    yield from _serve(tmp_path, Settings(rate_login_per_min=1000))


def test_sign_in_attempts_per_address_get_429_with_retry_after(tight: tuple[str, dict[str, str]]) -> None:
    url, tokens = tight
    with httpx.Client(base_url=url, timeout=WAIT_S) as client:
        answers = [client.post("/login", data={"token": f"fst_guess-{n}"}).status_code for n in range(3)]
        assert answers == [401, 401, 401]
        refused = client.post("/login", data={"token": tokens["reader"]})  # even the right token, for now
        link = client.get("/login", params={"token": tokens["reader"]})
        form = client.get("/login")  # showing the form is no attempt
    assert refused.status_code == 429 and link.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one attempt back every 20 s
    assert "Too many sign-in attempts" in refused.text and "text/html" in refused.headers["content-type"]
    assert form.status_code == 200


def test_requests_per_token_get_429_and_other_tokens_go_on(tight: tuple[str, dict[str, str]]) -> None:
    url, tokens = tight
    reader = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {tokens['reader']}"}, timeout=WAIT_S
    )
    desk = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['desk']}"}, timeout=WAIT_S)
    with reader, desk:
        codes = [reader.get("/v1/silences").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        refused = reader.get("/v1/silences")
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 100
        assert refused.json() == {
            "error": f"too many requests for token 'reader': retry in {refused.headers['retry-after']}s"
        }
        assert desk.get("/v1/silences").status_code == 200
        assert httpx.get(f"{url}/v1/silences", timeout=WAIT_S).status_code == 401  # no token: no bucket spent


def test_a_tokens_sign_ins_push_out_only_its_own_oldest_sessions(roomy: tuple[str, dict[str, str]]) -> None:
    url, tokens = roomy

    def sign_in(role: str) -> httpx.Client:
        client = httpx.Client(base_url=url, timeout=WAIT_S)
        assert client.get("/login", params={"token": tokens[role]}).status_code == 303
        return client

    desk = sign_in("desk")
    readers = [sign_in("reader") for _ in range(MAX_SESSIONS_PER_TOKEN + 5)]
    try:
        signed_in = [c.get("/v1/silences").status_code for c in readers]
        assert signed_in == [401] * 5 + [200] * MAX_SESSIONS_PER_TOKEN
        assert desk.get("/v1/silences").status_code == 200
    finally:
        for client in (desk, *readers):
            client.close()
