"""`finsent token create --scope SCOPE [--scope ...] [--name N]`: a new API token, shown once.

Prints the token (keep it: it is not stored anywhere) and the entry to configure, in both forms:
a `FINSENT_API_TOKENS` entry and a `FINSENT_API_TOKENS_PATH` YAML item. Only the SHA-256 of the
token goes into the configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pipeline.api_tokens import SCOPES, TokenConfigError, create_token

if TYPE_CHECKING:
    from pipeline.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token", help="create an API token for finsent serve", description=(__doc__ or "").splitlines()[0]
    )
    actions = parser.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it once with its config entry")
    create.add_argument(
        "--scope", action="append", required=True, choices=SCOPES, help="a scope of the token (repeatable)"
    )
    create.add_argument("--name", default="token", help="a name for logs and errors (token)")
    create.add_argument("--json", action="store_true", help="one JSON object instead of text")
    create.set_defaults(handler=handle_create)


def handle_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        token, entry = create_token(args.name, args.scope)
    except TokenConfigError as exc:
        print(f"finsent token: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "token": token,
                    "name": entry.principal.name,
                    "scopes": sorted(entry.principal.scopes),
                    "sha256": entry.digest,
                    "env": entry.config_line(),
                }
            )
        )
        return 0
    print(f"token (shown once; send as `Authorization: Bearer <token>`):\n  {token}\n")
    print(f"FINSENT_API_TOKENS entry (comma-separate several):\n  {entry.config_line()}\n")
    print(f"or, under `tokens:` in the FINSENT_API_TOKENS_PATH YAML file:\n  {entry.config_yaml()}")
    return 0
