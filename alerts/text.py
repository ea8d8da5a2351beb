"""Text a person gives (silence matchers and comments, watchlist names, owners and keys): printable,
so that every database stores it (Postgres refuses NUL in text and JSON) and no page or log line
shows a control character."""

from __future__ import annotations

CONTROL = r"\x00-\x1f\x7f"
"""C0 control characters and DEL, as a regular-expression character range."""
SPACE = " \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Every white space that is not a control character (what `str.split` splits on besides them), as
literal characters: `\\s` differs between the server's regular expressions (Python, Rust) and a
client's (ECMAScript: U+0085, U+FEFF), so the document's patterns never use it."""
PRINTABLE_PATTERN = rf"^[^{CONTROL}]*$"
"""Text without control characters (the OpenAPI pattern of what `printable` accepts)."""
TEXT_PATTERN = rf"^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
"""Printable text with something besides spaces."""


def printable(value: str, what: str) -> str:
    """`value` unless it holds a control character (C0, DEL) or a lone surrogate (which no database
    stores); `what` names it in the error."""
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{what} {value[:50]!r} holds control characters")
    return value
