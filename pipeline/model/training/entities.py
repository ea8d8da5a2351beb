"""Entity-level sentiment examples (SEntFiN, SemEval-2017 task 5, FiQA task 1) and the SEntFiN dev split.

Each (text, entity, label) becomes an `EntityExample` once the entity string is found in the text
(case-insensitive, whole word preferred); entities that cannot be found are counted and skipped.
The dev split holds out whole SEntFiN headlines (no headline on both sides), drawn only from
headlines the shipped three-head model did not train on (its sentiment split, `build_corpus` with
the same seed), so neither the entity head nor the headline baseline has seen a dev headline.
Regenerate the full dev file: `python -m pipeline.model.training.entities /tmp/sentfin_entity_dev.csv`.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.model.text import strip_links
from pipeline.model.training.dedup import dedup_texts, stratified_split
from pipeline.model.training.examples import EntityExample
from pipeline.model.training.sources import SENTFIN_DECISION, SENTIMENT_FILES, bucket, load_sentiment

SENTFIN_FILE = SENTIMENT_FILES[1]
SEMEVAL_FILE = SENTIMENT_FILES[2]
FIQA_FILE = SENTIMENT_FILES[3]
SENTFIN_HEADER = ("S No.", "Title", "Decisions", "Words")


@dataclass(frozen=True)
class Loaded:
    """Located examples and how many (text, entity) pairs could not be located."""

    examples: list[EntityExample]
    not_found: int = 0


@dataclass(frozen=True)
class EntitySplit:
    train: list[EntityExample]
    dev: list[EntityExample]
    stats: dict[str, object] = field(default_factory=dict)


def parse_decisions(decisions: str) -> list[tuple[str, str]]:
    """SEntFiN's dict-like `Decisions` string -> [(entity, label)]; tolerates the unescaped
    apostrophes of 13 rows (`{'Moody's': 'negative'}`), which `ast.literal_eval` rejects."""
    return [(m.group(1), m.group(2)) for m in SENTFIN_DECISION.finditer(decisions)]


def locate(text: str, entity: str) -> tuple[int, int] | None:
    """Char span of `entity` in `text`, case-insensitive: the first whole-word match, else the first
    match anywhere (`FIO` in `$FIO`), else None."""
    needle = entity.strip()
    if not needle:
        return None
    m = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text, flags=re.IGNORECASE) or re.search(
        re.escape(needle), text, flags=re.IGNORECASE
    )
    return (m.start(), m.end()) if m else None


def _located(pairs: Iterable[tuple[str, str, str]], source: str) -> Loaded:
    out: list[EntityExample] = []
    missing = 0
    for text, entity, label in pairs:
        span = locate(text, entity)
        if span is None:
            missing += 1
        else:
            out.append(EntityExample(text, span[0], span[1], label, source))
    return Loaded(out, missing)


def load_sentfin_entities(path: Path) -> Loaded:
    """One example per (Title, entity) of a SEntFiN-format CSV (`Title`, `Decisions` columns)."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [(r["Title"], e, lab) for r in csv.DictReader(f) for e, lab in parse_decisions(r["Decisions"])]
    return _located(rows, "sentfin")


def load_semeval_entities(path: Path) -> Loaded:
    """(title, company) pairs, scores bucketed like the headline task; `Â£` mojibake repaired,
    duplicate (title, company) pairs kept once."""
    seen: dict[tuple[str, str], str] = {}
    for r in json.loads(path.read_text(encoding="utf-8")):
        title = r["title"].replace("Â£", "£").replace("Â", "")
        seen.setdefault((title, r["company"]), bucket(float(r["sentiment"])))
    return _located(((t, c, lab) for (t, c), lab in seen.items()), "semeval2017_task5")


def load_fiqa_entities(path: Path) -> Loaded:
    """(sentence, target) pairs of FiQA task 1, scores bucketed."""
    items = json.loads(path.read_text(encoding="utf-8")).values()
    rows = [
        (it["sentence"], i["target"], bucket(float(i["sentiment_score"]))) for it in items for i in it["info"]
    ]
    return _located(rows, "fiqa_task1")


def shipped_sentiment_train(data_dir: Path, seed: int = 13, dev_fraction: float = 0.1) -> set[str]:
    """Link-stripped texts of the headline-sentiment train split `build_corpus` makes (the split the
    shipped three-head model trained on)."""
    unique, _ = dedup_texts(load_sentiment(data_dir))
    train, _ = stratified_split(unique, lambda e: (e.source, e.label), dev_fraction, seed)
    return {strip_links(e.text) for e in train}


def entity_split(data_dir: Path, seed: int = 13, dev_share: float = 0.5) -> EntitySplit:
    """Train on every source; dev = `dev_share` of the SEntFiN headlines outside the shipped
    model's sentiment train split, whole headlines only (fixed `seed`, so regenerable)."""
    sentfin = load_sentfin_entities(data_dir / SENTFIN_FILE)
    semeval = load_semeval_entities(data_dir / SEMEVAL_FILE)
    fiqa = load_fiqa_entities(data_dir / FIQA_FILE)
    seen = shipped_sentiment_train(data_dir, seed)
    pool = sorted({strip_links(e.text) for e in sentfin.examples} - seen)
    random.Random(seed).shuffle(pool)
    dev_titles = set(pool[: round(len(pool) * dev_share)])
    dev = [e for e in sentfin.examples if strip_links(e.text) in dev_titles]
    train = [
        e
        for e in (*sentfin.examples, *semeval.examples, *fiqa.examples)
        if strip_links(e.text) not in dev_titles
    ]
    stats: dict[str, object] = {
        "train": len(train),
        "dev": len(dev),
        "dev_headlines": len(dev_titles),
        "by_source": {
            s: sum(e.source == s for e in train) for s in ("sentfin", "semeval2017_task5", "fiqa_task1")
        },
        "not_found": {
            "sentfin": sentfin.not_found,
            "semeval2017_task5": semeval.not_found,
            "fiqa_task1": fiqa.not_found,
        },
        "dev_labels": {lab: sum(e.label == lab for e in dev) for lab in ("negative", "neutral", "positive")},
    }
    return EntitySplit(train, dev, stats)


def write_sentfin_csv(examples: Sequence[EntityExample], path: Path) -> None:
    """Write examples in SEntFiN's CSV format (one row per text, `Decisions` dict-like), the format
    `finsent evaluate --task entity_sentiment` reads. A repeated (text, entity) pair (SEntFiN repeats
    some titles) starts a new row, so reading the file back gives the same examples."""
    rows: list[tuple[str, dict[str, str]]] = []
    for e in examples:
        last = next((r for r in reversed(rows) if r[0] == e.text and e.entity not in r[1]), None)
        if last is None:
            rows.append((e.text, {}))
            last = rows[-1]
        last[1][e.entity] = e.label
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(SENTFIN_HEADER)
        for k, (text, decisions) in enumerate(rows, start=1):
            body = ", ".join(f"'{ent}': '{lab}'" for ent, lab in decisions.items())
            w.writerow((k, text, "{" + body + "}", len(text.split())))


def dev_file(data_dir: Path, out: Path, seed: int = 13) -> int:
    """Regenerate the full SEntFiN entity dev split as a CSV at `out`; returns the entity count."""
    split = entity_split(data_dir, seed)
    write_sentfin_csv(split.dev, out)
    return len(split.dev)


def check_subset(dev: Sequence[EntityExample], headlines: int = 150, seed: int = 13) -> list[EntityExample]:
    """A fixed sample of whole dev headlines (the CI subset under `tests/data/`)."""
    titles = sorted({e.text for e in dev})
    keep = set(random.Random(seed).sample(titles, min(headlines, len(titles))))
    return [e for e in dev if e.text in keep]


if __name__ == "__main__":  # python -m pipeline.model.training.entities OUT.csv [DATA_DIR]
    import sys

    data = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[4] / "shared" / "data"
    print(f"{dev_file(data, Path(sys.argv[1]))} entities written to {sys.argv[1]}")
