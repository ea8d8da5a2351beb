"""The shipped checkpoint loads and scores above a floor on small labelled samples of ../shared/data.

Runs the serving path (`Predictor.predict`), not the training-time evaluator. Under CI=true a missing
data dir fails the run instead of skipping.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.model import Predictor
from pipeline.model.training.sources import load_topic_file, load_twitter_sentiment_file, read_conll
from tests.fixtures.services import in_ci

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
N = 300


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not DATA.is_dir():
        if in_ci():
            pytest.fail(f"training data not found at {DATA}")
        pytest.skip(f"training data not found at {DATA}")
    return DATA


def sample(items: list, n: int = N) -> list:
    return random.Random(0).sample(items, min(n, len(items)))


def test_model_version_and_card(predictor: Predictor) -> None:
    assert predictor.model_version.startswith("minilm-mt-")


def test_topic_floor(predictor: Predictor, data_dir: Path) -> None:
    rows = sample(load_topic_file(data_dir / "topic/twitter_fin_topic_train.csv"))
    preds = predictor.predict([r.text for r in rows])
    acc = sum(p.topic == r.label for p, r in zip(preds, rows, strict=False)) / len(rows)
    assert acc >= 0.80, acc


def test_sentiment_floor(predictor: Predictor, data_dir: Path) -> None:
    rows = sample(load_twitter_sentiment_file(data_dir / "sentiment/twitter_fin_sentiment_train.csv"))
    preds = predictor.predict([r.text for r in rows])
    acc = sum(p.sentiment == r.label for p, r in zip(preds, rows, strict=False)) / len(rows)
    assert acc >= 0.80, acc


def test_ner_floor_on_held_out_conll(predictor: Predictor, data_dir: Path) -> None:
    from seqeval.metrics import f1_score

    sents = sample([s for s in read_conll(data_dir / "ner/conll2003/eng.testa", "testa") if len(s.words) > 3])
    gold, pred = [], []
    for s, p in zip(sents, predictor.predict([s.text_and_spans()[0] for s in sents]), strict=False):
        _, spans = s.text_and_spans()
        tags = ["O"] * len(spans)
        for e in p.entities:
            if e.ticker and e.text.startswith("$"):
                continue
            inside = [i for i, (a, b) in enumerate(spans) if a >= e.start and b <= e.end]
            for k, i in enumerate(inside):
                tags[i] = ("B-" if k == 0 else "I-") + e.label
        gold.append(list(s.tags))
        pred.append(tags)
    f1 = f1_score(gold, pred)
    assert f1 >= 0.75, f1


def test_serving_contract(predictor: Predictor) -> None:
    text = "Fed signals rate cut as Apple shares slide; $TSLA jumps"
    (p,) = predictor.predict([text])
    assert p.sentiment in p.sentiment_probs
    for e in p.entities:
        assert text[e.start : e.end] == e.text
    assert any(e.ticker == "TSLA" for e in p.entities)
    assert len(predictor.predict(["", "\x00", "🚀" * 10, "x" * 1_000_000])) == 4
