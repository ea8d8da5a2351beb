"""The unpadded forward computes what the padded one does, on the real tokens only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.model.checkpoint import LoadedModel, load_model
from pipeline.model.network import NewsModel
from pipeline.model.predictor import Prediction, Predictor
from pipeline.model.tokens import encode
from pipeline.model.unpadded import Packing, forward_unpadded, supports

MIXED = [
    "Fed signals rate cut as Apple shares slide",
    "Nvidia rallies as AMD slumps on weak data-centre outlook",
    "$TSLA up 4%",
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn. Nokia cut its outlook; Ericsson shares "
    "jumped after the Swedish company won a 5G contract in Germany. Analysts at Goldman Sachs said "
    "the rally in Stockholm may not last, while Deutsche Bank and UBS kept their targets unchanged.",
    "?!",
    "Microsoft buys a stake in OpenAI " * 30,
    "Oil falls",
]
"""Short and long texts in one call (a paragraph, one past max_length, one the model cannot score)."""


@contextmanager
def rows_seen(layer: nn.Module) -> Iterator[list[int]]:
    """Rows (positions) of every input the layer is run on while the block is open."""
    seen: list[int] = []
    handle = layer.register_forward_hook(
        lambda _m, args, _out: seen.append(args[0].reshape(-1, args[0].shape[-1]).shape[0])
    )
    try:
        yield seen
    finally:
        handle.remove()


def test_same_outputs_as_the_padded_forward(tiny_loaded: LoadedModel) -> None:
    model: NewsModel = tiny_loaded.model
    enc = encode(tiny_loaded.tokenizer, ["fed", "apple shares slide in new york", "buy $ aapl " * 8], 32)
    with torch.inference_mode():
        padded = model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        unpadded = forward_unpadded(model, enc.input_ids, enc.attention_mask, enc.casing_ids)
    real = enc.attention_mask.bool()
    torch.testing.assert_close(unpadded.topic_logits, padded.topic_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(unpadded.sentiment_logits, padded.sentiment_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(unpadded.ner_logits[real], padded.ner_logits[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(unpadded.hidden[real], padded.hidden[real], atol=1e-5, rtol=0)


def test_no_layer_runs_on_padding(tiny_loaded: LoadedModel) -> None:
    texts = ["fed", "apple", "tim cook runs apple inc in new york and buys msft stock " * 2]
    lengths = [len(ids) for ids in tiny_loaded.tokenizer(texts, max_length=32, truncation=True)["input_ids"]]
    padded = Predictor(tiny_loaded, device="cpu", unpadded_forward=False)
    unpadded = Predictor(tiny_loaded, device="cpu")
    assert unpadded.unpadded and not padded.unpadded  # the CPU default for a BERT encoder
    feed_forward = tiny_loaded.model.encoder.encoder.layer[0].intermediate.dense
    with rows_seen(feed_forward) as seen:
        padded.predict(texts)
    assert seen == [len(texts) * max(lengths)]
    with rows_seen(feed_forward) as seen:
        unpadded.predict(texts)
    assert seen == [sum(lengths)]


def test_packing_places_every_real_token_once() -> None:
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    packing = Packing.of(mask, group_tokens=6)
    assert packing.positions.tolist() == [0, 1, 0, 1, 2, 3, 4, 0, 1, 2, 0]
    rows = torch.cat([g.rows for g in packing.groups]).sort().values
    assert rows.tolist() == list(range(int(mask.sum())))
    assert all(g.index.numel() <= 6 or g.index.shape[0] == 1 for g in packing.groups)
    for g in packing.groups:
        assert (g.index[~g.valid] == g.index[:, :1].expand_as(g.index)[~g.valid]).all()  # padding: first row


def test_only_supported_encoders(tiny_loaded: LoadedModel) -> None:
    assert supports(tiny_loaded.model.encoder)
    assert not supports(nn.Linear(2, 2))
    tiny_loaded.model.encoder.config.position_embedding_type = "relative_key"
    try:
        assert not supports(tiny_loaded.model.encoder)
        assert not Predictor(tiny_loaded, device="cpu").unpadded
        with pytest.raises(ValueError, match="M023"):
            Predictor(tiny_loaded, device="cpu", unpadded_forward=True)
    finally:
        tiny_loaded.model.encoder.config.position_embedding_type = "absolute"


@pytest.fixture(scope="module")
def shipped() -> LoadedModel:
    return load_model(None)


def assert_same(got: list[Prediction], want: list[Prediction]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.topic, g.sentiment, g.flags) == (w.topic, w.sentiment, w.flags)
        assert abs(g.topic_score - w.topic_score) < 1e-4
        np.testing.assert_allclose(
            list(g.sentiment_probs.values()), list(w.sentiment_probs.values()), atol=1e-4
        )
        assert [(e.text, e.label, e.start, e.end, e.ticker) for e in g.entities] == [
            (e.text, e.label, e.start, e.end, e.ticker) for e in w.entities
        ]
        for ge, we in zip(g.entities, w.entities, strict=True):
            assert (ge.sentiment, ge.sentiment_source) == (we.sentiment, we.sentiment_source)
            assert abs(ge.score - we.score) < 1e-4
            if we.sentiment_probs is not None:
                assert ge.sentiment_probs is not None
                np.testing.assert_allclose(
                    list(ge.sentiment_probs.values()), list(we.sentiment_probs.values()), atol=1e-4
                )


def test_shipped_checkpoint_predicts_the_same_unpadded(shipped: LoadedModel) -> None:
    padded = Predictor(shipped, device="cpu", unpadded_forward=False)
    unpadded = Predictor(shipped, device="cpu")
    assert unpadded.unpadded
    want = padded.predict(MIXED)
    assert any(p.entities for p in want) and any(p.flags for p in want)  # the set exercises both
    assert_same(unpadded.predict(MIXED), want)
    assert_same([p for i in range(0, len(MIXED), 3) for p in unpadded.predict(MIXED[i : i + 3])], want)
