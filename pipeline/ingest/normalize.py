"""One source item (a loose mapping) -> one `RawNews`, or `InvalidItem` saying why not.

Pure: no I/O, no clock (`now` is passed in). What it does:

- text (`plain_text`): HTML tags stripped (script/style dropped), entities unescaped, Unicode
  NFC, zero-width characters removed, the contract's sanitiser applied, spaces collapsed; the
  title and source become one line, the body keeps its line breaks (see `plain_text`);
- time: ISO 8601, RFC 822 (RSS), epoch seconds (or milliseconds), `datetime`, `time.struct_time`;
  a naive time is read in the source's zone (`default_tz`), then converted to UTC; a missing time
  is `now`; an unreadable one, or one more than a day after `now`, is invalid;
- language: kept when the item gives one, else guessed with langdetect (fixed seed), `und` when
  the text is too short or the guess fails;
- tickers: from `tickers` / `ticker` / `symbols` hints plus cashtags (`$AAPL`, `$aapl`: the rule
  is `pipeline.cashtags`) in the title;
- id: `schemas.news_id` (canonical URL, else source + title + time), so the same story gets the
  same id from any source and tracking parameters do not change it; an item with neither link nor
  time gets its id from source + title alone (`UNDATED`), the same on every poll.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_tz
from html.parser import HTMLParser
from urllib.parse import urlsplit

from pydantic import ValidationError

from pipeline.cashtags import cashtags
from schemas import RawNews, clean_line, clean_text, news_id
from schemas.news import MAX_BODY_CHARS, MAX_TITLE_CHARS

FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "title": ("title", "headline"),
    "body": ("body", "summary", "description", "content", "text"),
    "url": ("url", "link"),
    "published_at": (
        "published_at",
        "published",
        "pubDate",
        "pubdate",
        "date",
        "updated",
        "timestamp",
        "time",
    ),
    "source": ("source",),
    "language": ("language", "lang"),
    "tickers": ("tickers", "ticker", "symbols"),
}
"""Item keys read for each `RawNews` field, first present wins."""

MAX_URL_CHARS = 4_000
UNDATED = datetime(1970, 1, 1, tzinfo=UTC)
"""The time the id of an item with neither link nor date is computed with (its `published_at` is
the ingest time): the same headline from the same source keeps its id from poll to poll."""
MAX_FUTURE = timedelta(days=1)
UNDETERMINED = "und"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?$")
_TICKER_SPLIT = re.compile(r"[\s,;|]+")
_TAG = re.compile(r"<[A-Za-z/!?]")
_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_EPOCH = re.compile(r"^-?\d{9,13}(?:\.\d+)?$")
_MIN_LETTERS_FOR_LANGUAGE = 12


class InvalidItem(ValueError):  # noqa: N818 - the name the contract uses
    """The item cannot become a `RawNews`; `reason` says why, `field` names the culprit if one."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


# --------------------------------------------------------------------------------------- text


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "noscript", "template"})
    _BREAK = frozenset(
        {
            "br",
            "p",
            "div",
            "li",
            "ul",
            "ol",
            "tr",
            "td",
            "th",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "section",
            "article",
            "header",
            "footer",
            "table",
            "hr",
            "pre",
        }
    )

    def __init__(self, *, markup: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._markup = markup

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:  # in markup, the source's own line breaks are only layout
            self.parts.append(_BREAKS.sub(" ", data) if self._markup else data)


def plain_text(value: str, *, keep_newlines: bool) -> str:
    """Plain text of an HTML or text fragment: tags out (block elements end a line), entities in,
    zero-width characters out, the contract's sanitiser (`schemas.clean_text` with `keep_newlines`,
    else `schemas.clean_line`), whitespace runs collapsed to one space, then Unicode NFC. The
    contract's sanitiser is the identity on the result, so `RawNews` stores it unchanged.

    Only one-line fields drop line breaks (`keep_newlines=False`: title, source): a headline is one
    line, and `RawNews.text` is the title, a newline, then the body. The body keeps them, one `\\n`
    per break (blank lines dropped): the model's sentence splitter (`pipeline.model.sentences`)
    ends a sentence at every line break, and the entity output's sentence fallback reads those
    sentences. In markup, the line breaks are the block elements' (`<p>`, `<br>`, `<li>`...), not
    the source's own wrapping; in plain text they are the text's own.
    """
    if "<" in value or "&" in value:
        parser = _TextExtractor(markup=_TAG.search(value) is not None)
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    value = value.translate(_ZERO_WIDTH)
    if keep_newlines:
        lines = (" ".join(line.split()) for line in clean_text(value).split("\n"))
        value = "\n".join(line for line in lines if line)
    else:
        value = " ".join(clean_line(value).split())
    return unicodedata.normalize("NFC", value)


# --------------------------------------------------------------------------------------- time


def parse_datetime(value: object, *, default_tz: tzinfo = UTC) -> datetime:
    """An aware UTC datetime from ISO 8601, RFC 822, epoch seconds/ms, datetime or struct_time.

    Raises `InvalidItem(field="published_at")` when the value is not a readable time.
    """
    parsed: datetime
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, time.struct_time):  # feedparser's *_parsed fields are UTC
        parsed = datetime(*value[:6], tzinfo=UTC)
    elif isinstance(value, bool):
        raise InvalidItem(f"not a time: {value!r}", field="published_at")
    elif isinstance(value, int | float):
        parsed = _from_epoch(value)
    elif isinstance(value, str):
        parsed = _parse_text_time(value.strip())
    else:
        raise InvalidItem(f"not a time: {type(value).__name__} {value!r:.80}", field="published_at")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=default_tz)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise InvalidItem(f"{parsed.isoformat()} out of range in UTC: {exc}", field="published_at") from exc


def _from_epoch(value: float) -> datetime:
    try:
        seconds = float(value)
        if abs(seconds) >= 1e11:  # 13 digits: milliseconds
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidItem(f"epoch {value!r:.40} out of range: {exc}", field="published_at") from exc


def _parse_text_time(text: str) -> datetime:
    if not text:
        raise InvalidItem("empty time", field="published_at")
    if _EPOCH.match(text):
        return _from_epoch(float(text))
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    rfc = parsedate_tz(text)
    if rfc is not None:
        year, month, day, hour, minute, second = rfc[:6]
        offset = rfc[9]
        if year < 100:  # RFC 822 two-digit years
            year += 2000 if year < 50 else 1900
        try:
            naive = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - zone applied below
        except ValueError as exc:
            raise InvalidItem(f"impossible date {text!r}: {exc}", field="published_at") from exc
        # "-0000" means "zone unknown" in RFC 2822: leave naive, the source's zone applies.
        if offset is None or (offset == 0 and "-0000" in text):
            return naive
        return naive.replace(tzinfo=timezone(timedelta(seconds=offset)))
    raise InvalidItem(
        f"unreadable time {text!r:.80} (expected ISO 8601, RFC 822 or epoch seconds)", field="published_at"
    )


# --------------------------------------------------------------------------------------- language

_lang_lock = threading.Lock()
_lang_ready = False


def guess_language(text: str) -> str:
    """ISO 639-1 code from langdetect (deterministic: fixed seed), `und` when unsure."""
    global _lang_ready
    letters = sum(ch.isalpha() for ch in text)
    if letters < _MIN_LETTERS_FOR_LANGUAGE:
        return UNDETERMINED
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    with _lang_lock:  # profile loading is not thread-safe
        if not _lang_ready:
            DetectorFactory.seed = 0
            try:
                detect("warm up the language profiles")
            except LangDetectException:
                pass
            _lang_ready = True
    try:
        return str(detect(text[:2_000]))
    except LangDetectException:
        return UNDETERMINED


# --------------------------------------------------------------------------------------- tickers


def extract_tickers(hints: object, title: str) -> tuple[str, ...]:
    """Tickers from hints (list or `AAPL, MSFT` string; `$` and `NASDAQ:` prefixes dropped) + cashtags."""
    found: list[str] = []
    raw: Iterable[object]
    if hints is None:
        raw = ()
    elif isinstance(hints, str):
        raw = _TICKER_SPLIT.split(hints)
    elif isinstance(hints, Iterable):
        raw = hints
    else:
        raw = (hints,)
    for hint in raw:
        if not isinstance(hint, str):
            continue
        symbol = hint.strip().lstrip("$").upper()
        symbol = symbol.rsplit(":", 1)[-1]  # NASDAQ:AAPL
        if _TICKER.match(symbol):
            found.append(symbol)
    found.extend(tag.symbol for tag in cashtags(title))
    return tuple(dict.fromkeys(found))


# --------------------------------------------------------------------------------------- item


def _check_url(url: str) -> None:
    """Raise `InvalidItem` for a link that does not parse (an unbalanced IPv6 bracket, a bad port)."""
    try:
        _ = urlsplit(url).port
    except ValueError as exc:
        raise InvalidItem(f"not a usable URL: {exc}", field="url") from exc


def _pick(item: Mapping[str, object], field: str) -> object:
    for key in FIELD_ALIASES[field]:
        value = item.get(key)
        if value is not None and value != "":
            return value
    return None


def _text_field(item: Mapping[str, object], field: str) -> str:
    value = _pick(item, field)
    if value is None:
        return ""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):  # feedparser `content`
        value = value[0].get("value", "")
    if isinstance(value, Mapping) and "value" in value:  # feedparser `*_detail`
        value = value["value"]
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidItem(f"expected text, got {type(value).__name__}", field=field)
    return plain_text(str(value), keep_newlines=field == "body")


def normalize(
    item: Mapping[str, object],
    *,
    source: str,
    default_tz: tzinfo = UTC,
    now: datetime,
) -> RawNews:
    """Turn one source item into a `RawNews`; raise `InvalidItem` with a clear reason otherwise.

    `source` names where the item came from (feed, file, endpoint); an item's own non-empty
    `source` string (e.g. the publisher in an archive) takes precedence.
    """
    if not isinstance(item, Mapping):
        raise InvalidItem(f"item must be a JSON object, got {type(item).__name__}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    title = _text_field(item, "title")
    if not title:
        raise InvalidItem("missing or empty title", field="title")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidItem(f"{len(title)} chars, limit {MAX_TITLE_CHARS}", field="title")
    body = _text_field(item, "body")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidItem(f"{len(body)} chars, limit {MAX_BODY_CHARS}", field="body")

    url_value = _pick(item, "url")
    url = url_value.strip() if isinstance(url_value, str) else None
    if url_value is not None and not isinstance(url_value, str):
        raise InvalidItem(f"expected a string, got {type(url_value).__name__}", field="url")
    if url and len(url) > MAX_URL_CHARS:
        raise InvalidItem(f"{len(url)} chars, limit {MAX_URL_CHARS}", field="url")
    if url:
        _check_url(url)

    item_source = _pick(item, "source")
    name = plain_text(item_source, keep_newlines=False) if isinstance(item_source, str) else ""
    name = (name or source.strip())[:200]
    if not name:
        raise InvalidItem("no source name", field="source")

    published_value = _pick(item, "published_at")
    published_at = (
        now.astimezone(UTC)
        if published_value is None
        else parse_datetime(published_value, default_tz=default_tz)
    )
    if published_at > now + MAX_FUTURE:
        raise InvalidItem(
            f"{published_at.isoformat()} is more than {MAX_FUTURE} after ingest time {now.isoformat()}"
            " (wrong time zone?)",
            field="published_at",
        )

    language_value = _pick(item, "language")
    if isinstance(language_value, str) and 0 < len(language_value.strip()) <= 16:
        language = language_value.strip().lower()
    else:
        language = guess_language(f"{title}. {body[:1_000]}")

    item_id = news_id(  # sanitises its inputs (lone surrogates, controls) and never raises
        url=url, source=name, title=title, published_at=published_at if published_value is not None else UNDATED
    )
    try:
        return RawNews(
            id=item_id,
            source=name,
            url=url or None,
            title=title,
            body=body,
            published_at=published_at,
            language=language,
            tickers=extract_tickers(_pick(item, "tickers"), title),
            ingested_at=now,
        )
    except ValidationError as exc:  # a limit this module does not pre-check
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidItem(first["msg"], field=field) from exc
