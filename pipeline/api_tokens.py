"""API tokens: bearer tokens with scopes, configured as SHA-256 hashes, checked in constant time.

A token is `fst_` + 32 random bytes (URL-safe base64); only its SHA-256 is configured, so the
configuration holds no secret. A fast hash is enough for 256 random bits (no dictionary to guess
from). `finsent token create` prints a new token once, with the entry to configure:

- `FINSENT_API_TOKENS`: entries `NAME:SCOPE[+SCOPE]:sha256:HEX`, separated by commas or spaces,
  e.g. `feeds:ingest:sha256:3b1f...,desk:read+admin:sha256:9ac2...`;
- `FINSENT_API_TOKENS_PATH`: a YAML file
  `tokens: [{name: feeds, scopes: [ingest], sha256: 3b1f...}]`.

Scopes are independent (`admin` does not imply `read`): give a token every scope it needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import yaml

Scope = Literal["ingest", "read", "admin"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
TOKEN_PREFIX: Final = "fst_"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class TokenConfigError(ValueError):
    """The configured tokens are malformed; the message names the entry, never a hash or token."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request authenticated as: the token's name and scopes."""

    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class TokenEntry:
    principal: Principal
    digest: str
    """Lower-case hex SHA-256 of the token."""

    def config_line(self) -> str:
        """The entry as it goes into `FINSENT_API_TOKENS`."""
        return f"{self.principal.name}:{'+'.join(sorted(self.principal.scopes))}:sha256:{self.digest}"

    def config_yaml(self) -> str:
        """The entry as it goes under `tokens:` in the YAML file."""
        scopes = ", ".join(sorted(self.principal.scopes))
        return f"- {{name: {self.principal.name}, scopes: [{scopes}], sha256: {self.digest}}}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(name: str, scopes: Iterable[str]) -> tuple[str, TokenEntry]:
    """A new random token and its configuration entry (print the token once; store only the entry)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, TokenEntry(_principal(name, list(scopes), where="new token"), digest(token))


class TokenRegistry:
    """The configured tokens; `authenticate(token)` compares against every entry in constant time."""

    def __init__(self, entries: Sequence[TokenEntry] = ()) -> None:
        names = [e.principal.name for e in entries]
        if len(set(names)) != len(names):
            raise TokenConfigError(f"token names must be unique: {sorted({n for n in names if names.count(n) > 1})}")
        self.entries = tuple(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of `token`, or None; every entry is compared (no early exit)."""
        presented = digest(token).encode("ascii")
        found: Principal | None = None
        for entry in self.entries:
            if hmac.compare_digest(presented, entry.digest.encode("ascii")):
                found = entry.principal
        return found


def parse_token_list(text: str) -> list[TokenEntry]:
    """Entries of `FINSENT_API_TOKENS` (`NAME:SCOPES:sha256:HEX`, comma or space separated)."""
    entries = []
    for number, part in enumerate((p for p in re.split(r"[,\s]+", text) if p), start=1):
        fields = part.split(":")
        if len(fields) != 4 or fields[2] != "sha256":
            raise TokenConfigError(
                f"FINSENT_API_TOKENS entry {number}: expected NAME:SCOPE[+SCOPE]:sha256:HEX "
                "(as printed by `finsent token create`)"
            )
        name, scopes, _, hexdigest = fields
        where = f"FINSENT_API_TOKENS entry {number}"
        entries.append(TokenEntry(_principal(name, scopes.split("+"), where=where), _digest(hexdigest, where)))
    return entries


def load_token_file(path: Path) -> list[TokenEntry]:
    """Entries of a tokens YAML file (`tokens: [{name, scopes, sha256}]`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokenConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise TokenConfigError(f"{path}: not valid YAML: {exc}") from exc
    items = (data or {}).get("tokens") if isinstance(data, dict | None) else None
    if not isinstance(items, list):
        raise TokenConfigError(f"{path}: expected `tokens:` with a list of {{name, scopes, sha256}}")
    entries = []
    for number, item in enumerate(items, start=1):
        where = f"{path}: tokens[{number}]"
        if not isinstance(item, dict) or set(item) != {"name", "scopes", "sha256"}:
            raise TokenConfigError(f"{where}: expected exactly the keys name, scopes, sha256")
        scopes = item["scopes"] if isinstance(item["scopes"], list) else [item["scopes"]]
        entries.append(TokenEntry(_principal(item["name"], scopes, where=where), _digest(item["sha256"], where)))
    return entries


def load_tokens(tokens: str | None, path: Path | None) -> TokenRegistry:
    """Every configured token: the `FINSENT_API_TOKENS` list plus the `FINSENT_API_TOKENS_PATH` file."""
    entries = parse_token_list(tokens) if tokens else []
    if path is not None:
        entries += load_token_file(path)
    return TokenRegistry(entries)


def _principal(name: object, scopes: Sequence[object], *, where: str) -> Principal:
    if not isinstance(name, str) or not _NAME.match(name):
        raise TokenConfigError(f"{where}: name must be 1-64 of [A-Za-z0-9_.@-], starting with a letter or digit")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise TokenConfigError(f"{where}: scopes must be some of {', '.join(SCOPES)} (got {unknown or 'none'})")
    return Principal(name, frozenset(s for s in SCOPES if s in scopes))


def _digest(value: object, where: str) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not _DIGEST.match(text):
        raise TokenConfigError(f"{where}: sha256 must be 64 hex characters (the hash, not the token)")
    return text
