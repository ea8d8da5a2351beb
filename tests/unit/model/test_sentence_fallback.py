"""The entity output's sentence fallback: where the entity head abstains, the sentence holding the
mention answers, scored by the sentiment head on that sentence's tokens from the same encoder pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.model.heads import SequenceHead, mean_pool
from pipeline.model.network import NewsModel
from pipeline.model.predictor import Entity, token_span
from pipeline.model.sentences import sentence_spans
from pipeline.model.tokens import collate, tokenize

TWO = "buy $AAPL stock. Sell $MSFT now"


def test_classify_is_the_head_on_a_pooled_vector() -> None:
    head = SequenceHead(8, 3).eval()
    hidden, mask = torch.randn(2, 5, 8), torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    assert torch.allclose(head.classify(mean_pool(hidden, mask)), head(hidden, mask))


def test_a_span_over_every_token_gets_the_texts_sentiment(tiny_model: NewsModel, tiny_loaded) -> None:
    enc = collate(tokenize(tiny_loaded.tokenizer, ["buy apple stock", "sell"], 32), 0)
    with torch.inference_mode():
        out = tiny_model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        n = int(enc.attention_mask[1].sum())
        spans = torch.tensor([[0, 0, enc.input_ids.shape[1]], [1, 0, n]])
        logits = tiny_model.sentence_logits(out.hidden, spans)
    assert torch.allclose(logits, out.sentiment_logits, atol=1e-5)


def test_abstained_entities_take_their_sentences_label_from_the_same_pass(counting_predictor) -> None:
    pred, calls = counting_predictor
    pred.entity_abstain_below = 1.01  # the entity head abstains on everything
    one, two = pred.predict(["buy $AAPL stock", TWO])
    assert len(calls) == 1  # one batch, one encoder call: sentences are pooled from its states
    assert one.entities and two.entities
    assert all(e.sentiment_source == "sentence" for e in one.entities + two.entities)
    # a one-sentence text is its sentence: the fallback is the text's own sentiment
    for e in one.entities:
        assert e.sentiment == one.sentiment and e.sentiment_probs == pytest.approx(one.sentiment_probs)


def test_each_mention_gets_the_sentiment_of_its_own_sentence(counting_predictor) -> None:
    pred, calls = counting_predictor
    pred.entity_abstain_below = 1.01
    mentions = [Entity(t, "ORG", TWO.index(t), TWO.index(t) + len(t), 1.0) for t in ("$AAPL", "$MSFT")]
    tok = tokenize(pred.tokenizer, [TWO], pred.max_length)[0]
    out = pred.forward([tok])
    (labelled,) = pred.entity_sentiments([mentions], [tok], out, [TWO])
    assert len(calls) == 1
    rows = torch.tensor([(0, *token_span(tok.offsets, s, e)) for s, e in sentence_spans(TWO)])  # type: ignore[misc]
    with torch.inference_mode():
        expected = torch.softmax(pred.model.sentence_logits(out.hidden, rows), -1).numpy()
    for e, p in zip(labelled, expected, strict=True):
        assert e.sentiment_source == "sentence"
        assert [e.sentiment_probs[n] for n in pred.labels.sentiment] == pytest.approx(p.tolist(), abs=1e-6)
        assert e.sentiment == pred.labels.sentiment[int(np.argmax(p))]
    assert not np.allclose(expected[0], expected[1])  # the two sentences are scored apart


def test_the_entity_heads_own_answer_wins_where_it_does_not_abstain(counting_predictor) -> None:
    pred, _ = counting_predictor
    pred.entity_abstain_below = 0.0
    (p,) = pred.predict([TWO])
    tagged = [e for e in p.entities if e.ticker]
    assert tagged and all(e.sentiment_source == "entity" for e in tagged)


def test_a_mention_past_truncation_has_no_sentiment(counting_predictor) -> None:
    pred, _ = counting_predictor
    pred.entity_abstain_below = 1.01
    (p,) = pred.predict(["buy stock . " * 20 + "sell $MSFT now"])  # past the tiny model's 32 tokens
    (msft,) = [e for e in p.entities if e.ticker == "MSFT"]
    assert msft.sentiment is None and msft.sentiment_probs is None and msft.sentiment_source is None
