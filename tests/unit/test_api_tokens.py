"""API tokens: creation, configuration formats, constant-time authentication, clear config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.api_tokens import (
    TokenConfigError,
    TokenRegistry,
    create_token,
    digest,
    load_token_file,
    load_tokens,
    parse_token_list,
)


def test_created_token_authenticates_with_its_scopes_only() -> None:
    token, entry = create_token("feeds", ["ingest"])
    assert token.startswith("fst_") and len(token) > 40
    assert entry.digest == digest(token) and token not in entry.config_line()
    registry = TokenRegistry(parse_token_list(entry.config_line()))
    principal = registry.authenticate(token)
    assert principal is not None and principal.name == "feeds"
    assert principal.allows("ingest") and not principal.allows("read") and not principal.allows("admin")
    assert registry.authenticate(token + "x") is None
    assert registry.authenticate("") is None


def test_env_list_and_yaml_file_combine(tmp_path: Path) -> None:
    one, first = create_token("feeds", ["ingest"])
    two, second = create_token("desk", ["read", "admin"])
    path = tmp_path / "tokens.yaml"
    path.write_text(f"tokens:\n  {second.config_yaml()}\n", encoding="utf-8")
    assert load_token_file(path) == [second]
    registry = load_tokens(f" {first.config_line()} , ", path)
    assert len(registry) == 2
    desk = registry.authenticate(two)
    assert desk is not None and desk.scopes == frozenset({"read", "admin"})
    assert registry.authenticate(one) is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("feeds:ingest:" + "a" * 64, "expected NAME:SCOPE"),
        ("feeds:write:sha256:" + "a" * 64, "scopes must be some of ingest, read, admin"),
        ("feeds:ingest:sha256:fst_abc", "64 hex characters (the hash, not the token)"),
        ("bad/name:ingest:sha256:" + "a" * 64, "name must be"),
    ],
)
def test_bad_env_entries_are_clear_and_never_echo_the_value(text: str, fragment: str) -> None:
    with pytest.raises(TokenConfigError) as info:
        parse_token_list(text)
    assert fragment in str(info.value) and "entry 1" in str(info.value)
    assert "fst_abc" not in str(info.value).replace("(the hash, not the token)", "")


def test_duplicate_names_and_bad_files(tmp_path: Path) -> None:
    _, entry = create_token("feeds", ["ingest"])
    with pytest.raises(TokenConfigError, match="unique"):
        TokenRegistry([entry, entry])
    path = tmp_path / "t.yaml"
    path.write_text("tokens: {name: x}\n", encoding="utf-8")
    with pytest.raises(TokenConfigError, match="expected `tokens:`"):
        load_token_file(path)
    with pytest.raises(TokenConfigError, match="cannot read"):
        load_token_file(tmp_path / "missing.yaml")
