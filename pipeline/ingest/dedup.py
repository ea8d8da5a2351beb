"""Duplicate detection over a bounded window of recently seen items. Pure and thread-safe.

Three checks, in order:

1. exact: the same stable id (same canonical URL, or same source + title + time);
2. title: the same *normalised* title (case, punctuation and whitespace folded, a publisher
   suffix such as " - Reuters" and a wire prefix such as "UPDATE 2-" removed);
3. near: a 64-bit simhash of the title's shingles (the set of its character trigrams) within
   Hamming distance 3 of one seen, and the same numbers in both titles ("up 2%" and "up 4%" are
   different news). Four 16-bit bands index the window: two hashes within distance 3 share at
   least one band exactly (pigeonhole), so a lookup only compares the items of four buckets.
   Titles under 5 words are not near-matched. Measured on invented headlines: word-form and
   small-word edits land at 2-6 bits, so this catches close rewrites only; a looser threshold
   starts to pair "edge higher" with "edge lower".

`DedupKey.of(raw)` reduces an item to what the checks compare (hashes, no text) and
`verdict_for(key, candidates, max_gap)` is the one decision, shared by the in-process
`Deduplicator` (an LRU window of `window` items) and the durable `pipeline.ingest.seen.SeenStore`.
`max_gap` (the deduplicator's `ttl`) bounds title and near matches in event time: two items whose
`published_at` differ by more than that are not the same story even with the same title ("Stocks
to watch" every morning). Exact id matches ignore it.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from schemas import RawNews

VerdictKind = Literal["unique", "duplicate_id", "duplicate_title", "near_duplicate"]

SIMHASH_BITS = 64
NEAR_DISTANCE = 3
_BANDS = NEAR_DISTANCE + 1
_BAND_BITS = SIMHASH_BITS // _BANDS
_BAND_MASK = (1 << _BAND_BITS) - 1
MIN_NEAR_TOKENS = 5
"""Titles shorter than this are not near-matched (too few shingles for a meaningful hash)."""

_WIRE_PREFIX = re.compile(
    r"^\s*(?:(?:update|wrapup|refile|corrected|exclusive|breaking|analysis|factbox)(?:\s+\d+)?"
    r"\s*[-:|]\s*)+",
    re.IGNORECASE,
)
_SUFFIX_SPLIT = re.compile(r"\s+[-|\u2013\u2014]\s+(?=[^-|\u2013\u2014]+$)")
_NON_WORD = re.compile(r"[^\w%$]+")


@dataclass(frozen=True, slots=True)
class DedupVerdict:
    """What the deduplicator said about one item; `duplicate_of` is the id of the earlier one."""

    kind: VerdictKind
    duplicate_of: str | None = None
    distance: int | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.kind != "unique"


UNIQUE = DedupVerdict("unique")


def _looks_like_publisher(suffix: str, source: str | None) -> bool:
    words = suffix.split()
    if source and suffix.strip().lower() == source.strip().lower():
        return True
    return (
        0 < len(words) <= 4
        and not any(ch.isdigit() for ch in suffix)
        and all(w[0].isupper() for w in words if w[0].isalpha())
    )


def normalize_title(title: str, *, source: str | None = None) -> str:
    """The comparison form of a title: no wire prefix or publisher suffix, lower case, words only."""
    text = unicodedata.normalize("NFKC", title)
    text = _WIRE_PREFIX.sub("", text)
    parts = _SUFFIX_SPLIT.split(text, maxsplit=1)
    if len(parts) == 2 and _looks_like_publisher(parts[1], source):
        text = parts[0]
    if source and text.lower().startswith(source.lower() + ":"):
        text = text[len(source) + 1 :]
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def shingles(title_key: str) -> set[str]:
    """Character trigrams of a normalised title (word boundaries included)."""
    padded = f" {title_key} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def simhash(features: set[str]) -> int:
    """64-bit simhash of a set of string features (blake2b per feature)."""
    weights = [0] * SIMHASH_BITS
    for feature in sorted(features):
        h = int(_digest(feature, 8), 16)
        for bit in range(SIMHASH_BITS):
            weights[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit, w in enumerate(weights) if w > 0)


def bands(value: int) -> tuple[int, ...]:
    """The four 16-bit bands of a simhash, lowest first (two hashes within `NEAR_DISTANCE` share one)."""
    return tuple((value >> (band * _BAND_BITS)) & _BAND_MASK for band in range(_BANDS))


def _digest(text: str, size: int) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()


@dataclass(frozen=True, slots=True)
class DedupKey:
    """What dedup compares of one item: hashes only, so no headline text is stored or indexed."""

    news_id: str
    title_hash: str
    """32 hex chars of the normalised title."""
    simhash: int | None
    """None for titles under `MIN_NEAR_TOKENS` words."""
    numbers_hash: str
    """16 hex chars of the title's number tokens ("up 2%" and "up 4%" differ)."""
    published_at: datetime

    @classmethod
    def of(cls, raw: RawNews) -> DedupKey:
        title_key = normalize_title(raw.title, source=raw.source)
        tokens = title_key.split()
        numbers = " ".join(t for t in tokens if any(ch.isdigit() for ch in t))
        return cls(
            news_id=raw.id,
            title_hash=_digest(title_key, 16),
            simhash=simhash(shingles(title_key)) if len(tokens) >= MIN_NEAR_TOKENS else None,
            numbers_hash=_digest(numbers, 8),
            published_at=raw.published_at,
        )


def verdict_for(key: DedupKey, candidates: Iterable[DedupKey], max_gap: timedelta | None) -> DedupVerdict:
    """The verdict for `key` against items seen before (any superset of the plausible matches).

    The one decision both indexes use (in-process `Deduplicator`, durable `SeenStore`): an exact id
    wins, then the same title, then the nearest simhash within `NEAR_DISTANCE` with the same
    numbers; title and near matches only within `max_gap` of event time (None: any gap).
    """
    title_match: str | None = None
    near: tuple[str, int] | None = None
    for seen in candidates:
        if seen.news_id == key.news_id:
            return DedupVerdict("duplicate_id", seen.news_id)
        if max_gap is not None and abs(seen.published_at - key.published_at) > max_gap:
            continue
        if seen.title_hash == key.title_hash:
            title_match = title_match or seen.news_id
        elif key.simhash is not None and seen.simhash is not None and seen.numbers_hash == key.numbers_hash:
            distance = (seen.simhash ^ key.simhash).bit_count()
            if distance <= NEAR_DISTANCE and (near is None or distance < near[1]):
                near = (seen.news_id, distance)
    if title_match is not None:
        return DedupVerdict("duplicate_title", title_match)
    if near is not None:
        return DedupVerdict("near_duplicate", near[0], near[1])
    return UNIQUE


class Deduplicator:
    """In-process index of the last `window` unique items; `check(raw)` says whether `raw` repeats one.

    With a durable `SeenStore` behind it, the publisher uses this index for the items *in flight*
    (claimed, not yet acknowledged) only, and forgets each once it is recorded durably.
    """

    def __init__(self, window: int = 50_000, ttl: timedelta | None = None) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.ttl = ttl
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, DedupKey] = OrderedDict()
        self._by_title: dict[str, str] = {}
        self._buckets: dict[tuple[int, int], set[str]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, raw: RawNews) -> DedupVerdict:
        """Verdict for `raw`; a unique item is remembered, a duplicate refreshes its original."""
        return self.check_key(DedupKey.of(raw))

    def check_key(self, key: DedupKey) -> DedupVerdict:
        with self._lock:
            verdict = verdict_for(key, self._candidates(key), self.ttl)
            if verdict.is_duplicate:
                assert verdict.duplicate_of is not None
                self._seen.move_to_end(verdict.duplicate_of)
            else:
                self._remember(key)
            return verdict

    def forget(self, news_id: str) -> None:
        """Drop one remembered item (sent and recorded elsewhere, or its send failed)."""
        with self._lock:
            self._drop(news_id)

    def _candidates(self, key: DedupKey) -> Iterator[DedupKey]:
        ids = [key.news_id, self._by_title.get(key.title_hash)]
        if key.simhash is not None:
            ids += [n for band in enumerate(bands(key.simhash)) for n in self._buckets.get(band, ())]
        for news_id in dict.fromkeys(ids):
            if news_id is not None and news_id in self._seen:
                yield self._seen[news_id]

    def _remember(self, key: DedupKey) -> None:
        self._seen[key.news_id] = key
        self._by_title[key.title_hash] = key.news_id
        if key.simhash is not None:
            for band in enumerate(bands(key.simhash)):
                self._buckets.setdefault(band, set()).add(key.news_id)
        while len(self._seen) > self.window:
            self._drop(next(iter(self._seen)))

    def _drop(self, news_id: str) -> None:
        key = self._seen.pop(news_id, None)
        if key is None:
            return
        if self._by_title.get(key.title_hash) == news_id:
            del self._by_title[key.title_hash]
        if key.simhash is not None:
            for band in enumerate(bands(key.simhash)):
                bucket = self._buckets.get(band)
                if bucket is not None:
                    bucket.discard(news_id)
                    if not bucket:
                        del self._buckets[band]


