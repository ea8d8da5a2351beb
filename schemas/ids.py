"""Stable news ids: a hash of the canonical URL, else of source + title + published_at."""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from schemas.sanitize import clean_line

_TRACKING_PREFIXES = ("utm_", "fbclid", "gclid", "mc_", "ref", "cmpid", "ncid")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragment, tracking params and trailing slash; sort query.
    A URL that does not parse (bad port, unbalanced IPv6 bracket) is returned stripped, as it is."""
    try:
        return _canonical(url.strip())
    except ValueError:
        return url.strip()


def _canonical(url: str) -> str:
    parts = urlsplit(url)
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES)
    )
    host = (parts.hostname or "").lower()
    if parts.port and not (parts.scheme == "http" and parts.port == 80) and not (
        parts.scheme == "https" and parts.port == 443
    ):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def news_id(*, url: str | None, source: str, title: str, published_at: datetime) -> str:
    """Return the 32-hex-char id of a news item (same item, same id, wherever it came from).

    The text is sanitised first (`schemas.sanitize.clean_line`), so an item gets the same id
    before and after cleaning, and no input (a lone surrogate, a NUL) makes hashing fail.
    """
    url, source, title = (clean_line(url) if url else None), clean_line(source), clean_line(title)
    if url and _scheme(url) in ("http", "https"):
        key = "url\x1f" + canonical_url(url)
    else:
        key = "\x1f".join(("item", source.strip().lower(), " ".join(title.split()), published_at.isoformat()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""
