import pytest

from pipeline.model.predictor import Entity, Prediction, Predictor, latin_share
from pipeline.model.tickers import Gazetteer


@pytest.fixture()
def tiny_predictor(tiny_loaded) -> Predictor:
    return Predictor(
        tiny_loaded, device="cpu", max_tokens=64, max_batch=4, gazetteer=Gazetteer([("Apple Inc.", "AAPL")])
    )


BAD = [
    "",
    "   ",
    "https://t.co/abc http://x.y/z",
    "apple " * 200_000,  # ~1.2 MB
    "🚀🚀🚀 📉",
    "\x00\x01\x02 stock \x7f",
    "美联储暗示降息，苹果股价下跌",
    None,
    b"apple shares slide",
]


def test_bad_inputs_never_raise_and_keep_order(tiny_predictor: Predictor) -> None:
    good = "Fed signals rate cut as Apple shares slide"
    texts = [good, *BAD, good]
    preds = tiny_predictor.predict(texts)  # type: ignore[arg-type]
    assert len(preds) == len(texts)
    assert all(isinstance(p, Prediction) for p in preds)
    assert preds[0] == preds[-1]
    assert not preds[0].flags
    by_text = dict(zip(range(len(texts)), preds, strict=False))
    for i in (1, 2, 3, 5):
        assert by_text[i].flags == ("empty",) and by_text[i].topic_score == 0.0
    assert preds[4].flags == ("truncated",)
    assert preds[7].flags == ("unsupported_language",)
    assert preds[8].flags == ("not_text",)
    for p in preds:
        assert abs(sum(p.sentiment_probs.values()) - 1.0) < 1e-4
        assert -1.0 <= p.sentiment_score <= 1.0


def test_one_bad_item_does_not_spoil_the_batch(tiny_predictor: Predictor, monkeypatch) -> None:
    real = tiny_predictor.forward
    texts = ["apple shares slide", "fed signals rate cut as apple shares slide"]
    bad_len = len(tiny_predictor.tokenizer(texts[0])["input_ids"])

    def flaky(tokens):
        if any(len(t.input_ids) == bad_len for t in tokens):
            raise RuntimeError("boom")
        return real(tokens)

    monkeypatch.setattr(tiny_predictor, "forward", flaky)
    with pytest.raises(RuntimeError, match="boom"):  # never a fallback that looks like a result:
        tiny_predictor.predict(texts)  # pipeline.enrichment isolates the item and dead-letters it
    assert not tiny_predictor.predict(texts[1:])[0].flags


def test_entity_offsets_and_cashtag_tickers(tiny_predictor: Predictor) -> None:
    text = "Buy $AAPL now, says Tim Cook"
    (pred,) = tiny_predictor.predict([text])
    for e in pred.entities:
        assert isinstance(e, Entity)
        assert text[e.start : e.end] == e.text
    cash = [e for e in pred.entities if e.ticker == "AAPL"]
    assert cash and cash[0].start <= text.index("$AAPL") < cash[0].end


def test_model_version_and_batching(tiny_predictor: Predictor) -> None:
    assert tiny_predictor.model_version == "tiny-test"
    texts = [("apple " * n).strip() for n in range(1, 30)]
    assert len(tiny_predictor.predict(texts)) == 29


def test_latin_share() -> None:
    assert latin_share("Apple") == 1.0
    assert latin_share("苹果") == 0.0
    assert latin_share("123") == 1.0
