"""Floors for the shipped model on dev splits it never trained on, about 2 points under its card.

The splits are rebuilt from ../shared/data exactly as training built them (same loaders, same
de-duplication, seed 13): the topic and sentiment dev splits, the formal-news authors' dev split
(sentences, and the targets of 2-6-sentence paragraphs), and the contrast suite (every entity of the
dev texts with a positive and a negative entity). Topic and sentiment go through the serving path
(`Predictor.predict`); entity figures score each gold span (the head, else the sentence holding it).
A worse checkpoint fails here; a better one passes and its card says by how much.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.model import Predictor
from pipeline.model.evaluate import evaluate_entities
from pipeline.model.training.data import Corpus, build_corpus
from pipeline.model.training.entities import entity_split
from pipeline.model.training.examples import TextExample
from pipeline.model.training.formal import (
    FormalData,
    contrast_suite,
    entity_examples,
    load_formal,
    paragraphs,
    sentence_examples,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 13
# the shipped card's dev figures (minilm-mt-5f6ed37e7a13) minus about 2 points
FLOORS: dict[str, float] = {
    "topic": 0.86,  # card 0.881
    "sentiment": 0.83,  # card 0.851
    "sentiment_tweets": 0.84,  # card 0.859
    "formal_sentences": 0.63,  # card 0.648 (SENTiVENT, SentiFM, NewsMTSC dev)
    "formal_company_sentences": 0.70,  # card: SENTiVENT 0.707 (n 437), SentiFM 0.757 (n 107)
    "paragraph_entities": 0.71,  # card 0.729
    "contrast_suite": 0.635,  # card 0.656
}
MIXED_MARGIN = 0.10  # card: 0.658 vs 0.541 on mixed dev paragraphs (the target is 0.15: not yet)


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> Corpus:
    return build_corpus(data_dir, SEED)


@pytest.fixture(scope="module")
def formal(data_dir: Path) -> FormalData:
    return load_formal(data_dir, SEED)


def served_accuracy(predictor: Predictor, rows: list[TextExample], task: str) -> float:
    preds = predictor.predict([r.text for r in rows])
    return sum(getattr(p, task) == r.label for p, r in zip(preds, rows, strict=True)) / len(rows)


def entities(predictor: Predictor, examples: list[Any]) -> dict[str, float]:
    return evaluate_entities(
        predictor.model, predictor.tokenizer, examples, predictor.max_length, predictor.entity_abstain_below
    )


def test_topic_dev(predictor: Predictor, corpus: Corpus) -> None:
    assert served_accuracy(predictor, corpus.topic_dev, "topic") >= FLOORS["topic"]


def test_sentiment_dev_and_its_tweets(predictor: Predictor, corpus: Corpus) -> None:
    assert served_accuracy(predictor, corpus.sentiment_dev, "sentiment") >= FLOORS["sentiment"]
    tweets = [e for e in corpus.sentiment_dev if e.source == "twitter_fin_sentiment"]
    assert served_accuracy(predictor, tweets, "sentiment") >= FLOORS["sentiment_tweets"]


def test_formal_news_sentences(predictor: Predictor, formal: FormalData) -> None:
    rows = sentence_examples(formal.part("dev"))
    assert served_accuracy(predictor, rows, "sentiment") >= FLOORS["formal_sentences"]
    wire = [r for r in rows if r.source != "formal_newsmtsc"]  # company news and the FT, not politics
    assert served_accuracy(predictor, wire, "sentiment") >= FLOORS["formal_company_sentences"]


def test_entities_in_paragraphs_answered_and_right_where_the_text_label_is_not(
    predictor: Predictor, formal: FormalData
) -> None:
    dev = formal.part("dev")
    m = entities(predictor, entity_examples(paragraphs(dev, SEED)))
    assert m["answered"] >= 0.8, m
    assert m["answer_accuracy"] >= FLOORS["paragraph_entities"], m
    # paragraphs whose entities disagree: well over every entity taking the text's label
    assert m["mixed_answer_accuracy"] >= m["mixed_baseline_accuracy"] + MIXED_MARGIN, m


def test_contrast_suite(predictor: Predictor, formal: FormalData, data_dir: Path) -> None:
    suite = contrast_suite(formal, entity_split(data_dir, SEED).dev, SEED)
    assert len({e.text for e in suite}) >= 300
    m = entities(predictor, suite)
    assert m["answer_accuracy"] >= FLOORS["contrast_suite"], m
    assert m["answer_accuracy"] > m["baseline_accuracy"], m
