"""The fourth output: span pooling, the abstain rule, SEntFiN parsing, one encoder pass per batch,
and checkpoints with and without the entity head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.model.checkpoint import LoadedModel, load_model, save_checkpoint
from pipeline.model.heads import EntityHead, span_distance, span_pool
from pipeline.model.predictor import Predictor, abstain, token_span
from pipeline.model.tickers import Gazetteer
from pipeline.model.training.entities import (
    load_sentfin_entities,
    locate,
    parse_decisions,
    write_sentfin_csv,
)
from pipeline.model.training.entity_stage import choose_answer_threshold, choose_threshold, floor4

NAMES = ("negative", "neutral", "positive")


def test_span_pool_is_the_mean_over_the_span_tokens() -> None:
    hidden = torch.arange(2 * 4 * 2, dtype=torch.float).reshape(2, 4, 2)
    spans = torch.tensor([[0, 1, 3], [1, 0, 1], [1, 2, 4]])
    out = span_pool(hidden, spans)
    assert torch.allclose(out[0], hidden[0, 1:3].mean(0))
    assert torch.allclose(out[1], hidden[1, 0])
    assert torch.allclose(out[2], hidden[1, 2:4].mean(0))
    assert span_pool(hidden, torch.zeros((0, 3), dtype=torch.long)).shape == (0, 2)


def test_span_distance_and_head_shapes() -> None:
    spans = torch.tensor([[0, 2, 4]])
    assert span_distance(6, spans).tolist() == [[-2, -1, 0, 0, 1, 2]]
    hidden = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    head = EntityHead(8, 3).eval()
    out = head(hidden, mask, torch.tensor([[1, 0, 2], [0, 1, 2]]))
    assert out.shape == (2, 3)
    # padding never matters: the same text padded wider gives the same logits
    wide = torch.cat([hidden, torch.randn(2, 3, 8)], dim=1)
    wide_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    assert torch.allclose(head(wide, wide_mask, torch.tensor([[0, 1, 2]])), out[1:], atol=1e-5)


def test_token_span_maps_chars_to_content_tokens() -> None:
    offsets = [(0, 0), (0, 6), (7, 14), (14, 17), (18, 23), (0, 0)]
    assert token_span(offsets, 7, 17) == (2, 4)
    assert token_span(offsets, 8, 9) == (2, 3)  # a partial overlap still counts
    assert token_span(offsets, 30, 35) is None  # past truncation: no span, the model abstains


def test_abstain_below_the_threshold() -> None:
    p = np.array([0.5, 0.3, 0.2])
    assert abstain(p, NAMES, 0.0) == "negative"
    assert abstain(p, NAMES, 0.5) == "negative"
    assert abstain(p, NAMES, 0.51) is None


def test_threshold_is_the_lowest_that_reaches_the_target_within_the_coverage_floor() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    gold = np.array([0, 0, 1, 0])  # the 0.6 one is wrong
    assert choose_threshold(probs, gold, target_accuracy=1.0, min_coverage=0.5) == pytest.approx(0.8)
    assert choose_threshold(probs, gold, target_accuracy=0.7, min_coverage=0.5) == 0.0  # 3/4 covers all
    # the target is out of reach while keeping 3 of 4: keep exactly the coverage floor
    assert choose_threshold(probs, gold, target_accuracy=1.0, min_coverage=0.75) == pytest.approx(0.6)
    assert floor4(0.76459) == 0.7645  # stored rounded down: the boundary entity stays covered


def test_answer_threshold_lets_the_entity_head_answer_where_it_beats_the_sentence() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    sentence = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    # the head is right on the two confident ones, the sentence on the other two: answer 4/4 at 0.8
    assert choose_answer_threshold(probs, sentence, np.array([0, 0, 1, 1])) == pytest.approx(0.8)
    # the head is right everywhere: it answers everything
    assert choose_answer_threshold(probs, sentence, np.array([0, 0, 0, 0])) == 0.0
    # the sentence is right everywhere: the head never answers (a threshold above its top probability)
    assert choose_answer_threshold(probs, sentence, np.array([2, 2, 1, 1])) > 0.9
    # a tie goes to the lower threshold: 0.8 (the sentence gets the third right, the fourth wrong) and
    # 0.0 (the head gets the fourth right, the third wrong) both answer 3 of 4
    assert choose_answer_threshold(probs, sentence, np.array([0, 0, 1, 0])) == 0.0


def test_sentfin_decisions_with_unescaped_apostrophes() -> None:
    assert parse_decisions("{'SpiceJet': 'neutral'}") == [("SpiceJet", "neutral")]
    assert parse_decisions("{'Moody's': 'negative', 'RBI': 'positive'}") == [
        ("Moody's", "negative"),
        ("RBI", "positive"),
    ]
    assert parse_decisions("{'Dr Reddy's Labs': 'positive'}") == [("Dr Reddy's Labs", "positive")]


def test_locate_prefers_whole_words_and_ignores_case() -> None:
    text = "ITC Hotels and itc slip; $FIO jumps"
    assert locate(text, "ITC") == (0, 3)
    assert locate(text, "hotels") == (4, 10)
    assert locate(text, "FIO") == (26, 29)  # after a cashtag's $
    assert locate("Vedanta and Ved", "ved") == (12, 15)  # the whole word, not inside Vedanta
    assert locate("Vedanta rises", "Ved") == (0, 3)  # else anywhere
    assert locate(text, "Reliance") is None


def test_sentfin_file_round_trip_counts_entities_not_found(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "S No.,Title,Decisions,Words\n"
        "1,Moody's cuts outlook; RBI holds rates,\"{'Moody's': 'negative', 'RBI': 'neutral'}\",6\n"
        "2,Sensex gains 200 points,\"{'Sensex': 'positive', 'Nifty': 'positive'}\",4\n"
        "3,Moody's cuts outlook; RBI holds rates,\"{'RBI': 'neutral'}\",6\n",
        encoding="utf-8",
    )
    loaded = load_sentfin_entities(src)
    assert [(e.entity, e.label) for e in loaded.examples] == [
        ("Moody's", "negative"),
        ("RBI", "neutral"),
        ("Sensex", "positive"),
        ("RBI", "neutral"),  # SEntFiN repeats some titles; the repeat stays a row of its own
    ]
    assert loaded.not_found == 1
    out = tmp_path / "out.csv"
    write_sentfin_csv(loaded.examples, out)
    assert load_sentfin_entities(out).examples == loaded.examples


def test_entity_sentiment_comes_from_the_same_encoder_pass(counting_predictor) -> None:
    pred, calls = counting_predictor
    texts = ["buy $AAPL stock", "sell $MSFT , buy $AAPL", "fed signals rate cut"]
    out = pred.predict(texts)
    assert len(calls) == 1  # one batch, one encoder call, four outputs
    tagged = [e for p in out for e in p.entities if e.text.startswith("$")]
    assert len(tagged) == 3
    for e in tagged:
        assert e.sentiment in NAMES and e.sentiment_probs is not None and e.sentiment_source is not None
        assert e.sentiment_score == pytest.approx(
            e.sentiment_probs["positive"] - e.sentiment_probs["negative"]
        )


def test_three_output_mode_leaves_entity_sentiment_none(counting_predictor) -> None:
    pred, _ = counting_predictor
    pred.entity_sentiment = False
    (p,) = pred.predict(["buy $AAPL stock"])
    assert p.entities and all(
        e.sentiment is None and e.sentiment_probs is None and e.sentiment_source is None for e in p.entities
    )


def test_a_checkpoint_without_the_head_loads_without_it(
    tiny_lora_model, tiny_lora_spec, tmp_path: Path
) -> None:
    save_checkpoint(tiny_lora_model, tiny_lora_spec, tmp_path / "with")
    assert load_model(tmp_path / "with").model.entity_head is not None
    tiny_lora_model.entity_head = None  # a checkpoint written before the fourth head existed
    save_checkpoint(tiny_lora_model, tiny_lora_spec, tmp_path / "old")
    loaded = load_model(tmp_path / "old")
    assert loaded.model.entity_head is None and loaded.spec.entity_abstain_below == 0.0
    (p,) = Predictor(loaded, device="cpu", gazetteer=Gazetteer([])).predict(["buy $AAPL stock"])
    assert p.entities and all(e.sentiment is None for e in p.entities)


def test_entity_features_carry_the_span_and_drop_truncated_targets(tiny_loaded: LoadedModel) -> None:
    from pipeline.model.training.continued import entity_features
    from pipeline.model.training.examples import EntityExample

    index = {n: i for i, n in enumerate(NAMES)}
    long = "stock " * 40 + "apple"
    feats = entity_features(
        tiny_loaded.tokenizer,
        [
            EntityExample("buy apple stock", 4, 9, "positive", "t"),
            EntityExample(long, len(long) - 5, len(long), "negative", "t"),
        ],
        index,
        max_length=16,
    )
    assert len(feats) == 1 and feats[0].label == 2
    lo, hi = feats[0].span  # type: ignore[misc]
    assert tiny_loaded.tokenizer.decode(feats[0].tokens.input_ids[lo:hi]) == "apple"
