"""Entity evaluation reports the product's answer (the entity head, else the sentence holding the
mention, else the text) next to the text-label baseline, on headlines and multi-sentence paragraphs,
computing the sentence fallback exactly as the predictor does."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.model.checkpoint import LoadedModel
from pipeline.model.evaluate import (
    SentenceFallback,
    entity_metrics,
    evaluate_entities,
    evaluate_file,
    sentence_probs,
)
from pipeline.model.inference import entity_pass
from pipeline.model.predictor import Entity, Predictor
from pipeline.model.tickers import Gazetteer
from pipeline.model.training.examples import EntityExample

PARAGRAPH = "buy apple stock. Sell microsoft now"  # two sentences, two entities pulling apart
HEADLINE = "fed signals rate cut as apple shares slide"


def example(text: str, entity: str, label: str) -> EntityExample:
    start = text.index(entity)
    return EntityExample(text, start, start + len(entity), label, "hand")


EXAMPLES = [
    example(PARAGRAPH, "apple", "positive"),
    example(PARAGRAPH, "microsoft", "negative"),
    example(HEADLINE, "apple", "negative"),
]


def test_the_answer_is_the_entity_head_else_the_sentence_else_the_text() -> None:
    gold = [0, 2, 1, 2, 0]
    head = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3]])
    text = np.tile([0.1, 0.8, 0.1], (5, 1))
    sentence = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    has = np.array([True, True, True, False, False])  # the 4th and 5th: past truncation
    visible = np.array([True, True, True, False, False])
    m = entity_metrics(gold, head, text, 0.5, SentenceFallback(sentence, has, visible))
    # answers: head (0, right), sentence (2, right), sentence (0, wrong), text (1, wrong: the head's
    # confident 0 does not count on a mention it never read), text (1, wrong)
    assert m["answered"] == pytest.approx(3 / 5) and m["sentence_share"] == pytest.approx(2 / 5)
    assert m["answer_accuracy"] == pytest.approx(2 / 5)
    assert m["answer_accuracy_answered"] == pytest.approx(2 / 3)
    assert m["baseline_accuracy"] == pytest.approx(1 / 5)  # the text's label for every entity
    assert "answered" not in entity_metrics(gold, head, text, 0.5)  # without the fallback: as before


def test_sentence_probabilities_match_the_predictors_fallback(tiny_loaded: LoadedModel) -> None:
    model, tokenizer = tiny_loaded.model, tiny_loaded.tokenizer
    found = entity_pass(model, tokenizer, EXAMPLES, 32, dtype=torch.float32)
    fallback = sentence_probs(model, found)
    assert fallback.has.all() and found.single.tolist() == [False, False, True]
    predictor = Predictor(tiny_loaded, device="cpu", gazetteer=Gazetteer([]))
    predictor.entity_abstain_below = 1.01  # the entity head abstains: every mention takes its sentence
    served = []
    for e in EXAMPLES:
        tok = predictor.preprocess([e.text])[0].tokens
        assert tok is not None
        out = predictor.forward([tok])
        (labelled,) = predictor.entity_sentiments(
            [[Entity(e.entity, "ORG", e.start, e.end, 1.0)]], [tok], out, [e.text]
        )
        assert labelled[0].sentiment_source == "sentence" and labelled[0].sentiment_probs is not None
        served.append([labelled[0].sentiment_probs[n] for n in predictor.labels.sentiment])
    np.testing.assert_allclose(fallback.probs, np.array(served), atol=1e-5)
    assert not np.allclose(fallback.probs[0], fallback.probs[1])  # each sentence of the paragraph apart


def test_evaluate_entities_on_a_two_sentence_paragraph(tiny_loaded: LoadedModel) -> None:
    model, tokenizer = tiny_loaded.model, tiny_loaded.tokenizer
    sentence_only = evaluate_entities(model, tokenizer, EXAMPLES, 32, abstain_below=1.01)
    assert sentence_only["answered"] == 1.0 and sentence_only["sentence_share"] == 1.0
    assert sentence_only["answer_accuracy"] == sentence_only["sentence_accuracy"]
    assert sentence_only["mixed_n"] == 2  # the paragraph's two entities disagree
    assert sentence_only["mixed_baseline_accuracy"] <= 0.5  # one text label cannot be right for both
    for key in (
        "mixed_answered",
        "mixed_answer_accuracy",
        "mixed_sentence_accuracy",
        "opposite_answer_accuracy",
    ):
        assert 0.0 <= sentence_only[key] <= 1.0
    entity_only = evaluate_entities(model, tokenizer, EXAMPLES, 32, abstain_below=0.0)
    assert entity_only["answered"] == 1.0 and entity_only["sentence_share"] == 0.0
    assert entity_only["answer_accuracy"] == entity_only["accuracy"]


def test_evaluate_file_reads_a_csv_of_entity_spans(tiny_loaded: LoadedModel, tmp_path: Path) -> None:
    path = tmp_path / "paragraphs.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "start", "end", "label", "source", "mixed"])
        writer.writeheader()
        writer.writerows(
            {"text": e.text, "start": e.start, "end": e.end, "label": e.label, "source": "hand", "mixed": 1}
            for e in EXAMPLES
        )
    model, tokenizer = tiny_loaded.model, tiny_loaded.tokenizer
    from_file = evaluate_file(model, tokenizer, path, "entity_sentiment", 32, abstain_below=0.5)
    assert from_file == evaluate_entities(model, tokenizer, EXAMPLES, 32, abstain_below=0.5) | {
        "not_found": 0.0
    }
