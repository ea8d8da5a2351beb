"""The one sanitising step at the contract boundary: text every source and consumer can store.

Every string field of the message contracts passes through `clean_line` (one-line fields: title,
source, url, language, tickers, dead-letter reasons) or `clean_text` (multi-line fields: body), as
pydantic `BeforeValidator`s (`CleanLine`, `CleanText`), so a `RawNews` built from a file, a feed,
an HTTP body or a Kafka record holds the same, storable text. Ingest code that needs the cleaned
text before it builds a contract (e.g. to check a length) calls the same two functions.

What happens to each kind of bad text — clean and keep, or reject with a reason:

| input | decision | why |
|---|---|---|
| NUL and other C0 controls, DEL, C1 controls (U+0080-U+009F) | removed | Postgres `text`/`jsonb` refuse NUL; the others are invisible noise in a headline |
| line breaks and tabs (`\\r\\n`, `\\r`, VT, FF, NEL, U+2028/9) in one-line fields | one space each | a headline is one line; the words stay apart |
| the same in multi-line fields | `\\n` (tab kept) | paragraphs are meaningful in a body |
| lone surrogates (`"\\ud800"` in JSON escapes) | U+FFFD each | not encodable as UTF-8: they would crash id hashing and the database driver |
| bidi embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069) | removed | "Trojan source": an unbalanced override reorders what a dashboard, a log or a Slack message shows after it; logical text, and so the model's input, is unchanged |
| a payload that is not UTF-8 at all | rejected (`schemas.serde.decode`: `InvalidUtf8`) | the message is not in the contract's encoding; its bytes are kept in the dead letter |
| over-long fields (title > 2,000 chars, body > 1,000,000, source > 200, url > 4,000) | rejected, the reason names the field and the limit | a 1 MB "headline" is abuse or a broken feed, not a headline; truncating would store a different story |
| a `RawNews.id` with anything but printable ASCII | rejected | an id is a key: cleaning it would merge or split stories |

Both functions are idempotent (`clean(clean(s)) == clean(s)`) and the identity on ordinary text,
so ids hashed from cleaned or uncleaned text agree (`schemas.ids.news_id` cleans its inputs).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_BREAKS = "\r\n\t\x0b\x0c\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{_BREAKS}]")
_TEXT_BREAK = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_DROP = re.compile(f"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f{_BIDI_CONTROLS}]")
"""Controls other than the breaks above, and the bidi controls."""


def replace_lone_surrogates(value: str) -> str:
    """Pair up surrogate halves that form a character; replace each lone one with U+FFFD."""
    if not _SURROGATE.search(value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_line(value: str) -> str:
    """One-line text: line breaks and tabs become spaces, controls and bidi overrides go,
    lone surrogates become U+FFFD. Nothing else changes (no trimming, no collapsing)."""
    value = replace_lone_surrogates(value)
    return _DROP.sub("", _LINE_BREAK.sub(" ", value))


def clean_text(value: str) -> str:
    """Multi-line text: `\\n` and `\\t` are kept (other breaks become `\\n`), controls and bidi
    overrides go, lone surrogates become U+FFFD."""
    value = replace_lone_surrogates(value)
    return _DROP.sub("", _TEXT_BREAK.sub("\n", value))


def _line_or_as_is(value: object) -> object:
    return clean_line(value) if isinstance(value, str) else value  # a wrong type is reported by pydantic


def _text_or_as_is(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


CleanLine = Annotated[str, BeforeValidator(_line_or_as_is)]
"""A one-line string field, sanitised by `clean_line` before validation."""

CleanText = Annotated[str, BeforeValidator(_text_or_as_is)]
"""A multi-line string field, sanitised by `clean_text` before validation."""
