"""The names the server answers to (`Host`), the origins that may write, and the method labels."""

from __future__ import annotations

import pytest

from pipeline.api_tokens import TokenRegistry
from pipeline.config import Settings
from workers.http.access import OTHER_METHOD, method_label
from workers.http.context import AppContext
from workers.http.hosts import SiteNames, origin_of, split_host

LOOPBACK = ["localhost", "LOCALHOST:8080", "localhost.", "127.0.0.1", "127.0.0.2:80", "[::1]", "[::1]:8080"]
FOREIGN = ["evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io", "finsent.example.org"]
MALFORMED = ["", " ", "a b", "evil.example:80:80", "evil.example:99999", "[::1", "[zz::1]", "::1", "host/x", "a@b"]


def names(*, open_access: bool, public_url: str = "http://localhost:8080", allowed: str | None = None) -> SiteNames:
    settings = Settings(public_url=public_url, allowed_hosts=allowed)
    return SiteNames.from_context(AppContext(settings=settings, tokens=TokenRegistry([]), open_access=open_access))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM.:8080", ("example.com", 8080)),
        ("[::1]", ("::1", None)),
        ("10.0.0.5:443", ("10.0.0.5", 443)),
        *((value, None) for value in MALFORMED),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None] | None) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize("host", LOOPBACK)
def test_open_access_answers_loopback_names_on_any_port(host: str) -> None:
    assert names(open_access=True).allows_host(host)


@pytest.mark.parametrize("host", [*FOREIGN, *MALFORMED, "10.0.0.5", "[2001:db8::1]", "finsent.example.com"])
def test_open_access_refuses_every_other_name(host: str) -> None:
    assert not names(open_access=True, public_url="https://finsent.example.com").allows_host(host)


def test_with_tokens_the_public_host_extra_names_and_addresses_are_answered_too() -> None:
    site = names(open_access=False, public_url="https://Finsent.Example.com/", allowed="serve, intra.example:8080")
    for host in [*LOOPBACK, "finsent.example.com", "finsent.example.com:8443", "serve:8080", "intra.example"]:
        assert site.allows_host(host), host
    for host in ["10.0.0.5:8080", "[2001:db8::1]:8080"]:  # a rebinding page is always reached by a name
        assert site.allows_host(host), host
    for host in [*FOREIGN, *MALFORMED]:
        assert not site.allows_host(host), host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Finsent.Example.com:443/x", "https://finsent.example.com"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:80", "http://[::1]"),
        ("null", None),
        ("ftp://example.com", None),
    ],
)
def test_origin_of(url: str, expected: str | None) -> None:
    assert origin_of(url) == expected


def test_origins_that_may_write() -> None:
    site = names(open_access=False, public_url="https://finsent.example.com")
    assert site.allows_origin("https://finsent.example.com", "serve:8080")  # behind the TLS proxy
    assert site.allows_origin("https://finsent.example.com:443/", "finsent.example.com")
    assert site.allows_origin("http://127.0.0.1:8080", "127.0.0.1:8080")  # the page's own origin
    assert not site.allows_origin("http://127.0.0.1:3000", "127.0.0.1:8080")  # another local site
    assert not site.allows_origin("http://finsent.example.com", "finsent.example.com")  # not https
    assert not site.allows_origin("null", "127.0.0.1:8080")


def test_a_rebound_name_may_not_write_even_when_origin_and_host_agree() -> None:
    """DNS rebinding: the attacker's page and its requests both carry the attacker's name."""
    for open_access in (True, False):
        site = names(open_access=open_access)
        assert not site.allows_origin("http://evil.example:8080", "evil.example:8080")
        assert site.allows_origin("http://localhost:8080", "localhost:8080")
        assert site.allows_origin("http://localhost:8123", "localhost:8123")  # the public URL's host, another port


def test_https_follows_the_public_url() -> None:
    assert names(open_access=False, public_url="https://finsent.example.com").https
    assert not names(open_access=False).https


@pytest.mark.parametrize(
    ("method", "label"),
    [("GET", "GET"), ("DELETE", "DELETE"), ("OPTIONS", "OPTIONS"), ("get", OTHER_METHOD), ("X-1234", OTHER_METHOD)],
)
def test_method_labels_are_a_fixed_set(method: str, label: str) -> None:
    assert method_label(method) == label
