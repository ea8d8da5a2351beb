"""Formal-news loaders: re-spaced text, char spans that still name their target, paragraphs that keep
every target's and sentence's label, the contrast suite's positive-vs-negative rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.model.training.examples import EntityExample
from pipeline.model.training.formal import (
    FormalData,
    FormalSentence,
    Target,
    contrast_suite,
    detokenize,
    entity_examples,
    load_newsmtsc_file,
    load_polex_file,
    paragraphs,
    sentence_examples,
    sentence_in_context,
)
from pipeline.model.training.licences import LICENCES, licence

HEADER = "id\tpolarity\tpolarity_orig\tsentence\tpolex\tpolex+targets\tpolex_span\tpolex+targets_span\ttarget_spans\tsplit"
ROWS = [
    "acme00 00 00\tpositive\tpositive\tAcme Inc . shares rise 4.76 % to $ 47.08\trise\tx\t(4, 4)\t(0, 4)\t[(0, 1)]\ttrain",
    "acme00 00 01\tnegative\tnegative\tAcme Inc . shares rise 4.76 % to $ 47.08\tx\tx\t(4, 4)\t(0, 4)\t[(0, 1)]\ttrain",
    "acme00 01 00\tnegative\tnegative\tGlobex ( GBX ) cuts its outlook .\tcuts\tx\t(4, 4)\t(0, 4)\t[(0, 0)]\ttrain",
    "acme00 02 00\tpositive\tpositive\tAcme wins the contract .\twins\tx\t(1, 1)\t(0, 1)\t[(0, 0)]\ttrain",
    "acme00 02 01\tpositive\tpositive\tAcme wins the contract .\twins\tx\t(1, 1)\t(0, 3)\t[(2, 3)]\ttrain",
]


@pytest.fixture
def polex(tmp_path: Path) -> list[FormalSentence]:
    path = tmp_path / "polex.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return load_polex_file(path, "sentivent")


def test_detokenize_spaces_like_a_wire_and_keeps_token_spans() -> None:
    tokens = "Acme Inc . AAL saw shares rise 4.76 % to $ 47.08 ( up ) .".split(" ")
    text, spans = detokenize(tokens)
    assert text == "Acme Inc. AAL saw shares rise 4.76% to $47.08 (up)."
    assert [text[a:b] for a, b in spans] == tokens


def test_polex_sentences_in_order_with_agreeing_labels_and_target_spans(polex: list[FormalSentence]) -> None:
    first, second, third = polex
    assert first.text == "Acme Inc. shares rise 4.76% to $47.08"
    assert first.label is None  # a positive and a negative expression: mixed, no sentence label
    assert first.targets == ()  # the one target was named by both: its label is ambiguous, dropped
    assert second.label == "negative" and [second.text[t.start : t.end] for t in second.targets] == ["Globex"]
    assert third.label == "positive"
    assert [(third.text[t.start : t.end], t.label) for t in third.targets] == [
        ("Acme", "positive"),
        ("the contract", "positive"),
    ]
    assert [e.text for e in sentence_examples(polex)] == [second.text, third.text]


def test_paragraphs_keep_every_target_and_sentence_label() -> None:
    sents = [
        FormalSentence("d", i, f"S{i} Acme{i} moves.", "dev", "sentivent", (lab,), (Target(3, 3 + 5, lab),))
        for i, lab in enumerate(
            ["positive", "negative", "neutral", "positive", "negative", "positive", "neutral"]
        )
    ]
    pars = paragraphs(sents, seed=3)
    assert all(2 <= len(p.sentences) <= 6 for p in pars)
    joined = [t for p in pars for t in p.targets]
    assert len(joined) == sum(len(p.sentences) for p in pars)
    for p in pars:
        for (s, e, label), t in zip(p.sentences, p.targets, strict=True):
            assert p.text[t.start : t.end].startswith("Acme") and t.label == label
            assert p.text[s:e].startswith("S")
    ctx = sentence_in_context(pars)
    assert all(e.text[e.start : e.end].endswith("moves.") for e in ctx)
    assert {e.text for e in entity_examples(pars)} == {p.text for p in pars}


def test_newsmtsc_targets_and_seeded_dev_share(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    lines = [
        {
            "sentence_normalized": f"Smith praised Jones {i}.",
            "targets": [{"from": 0, "to": 5, "polarity": 6.0}, {"from": 14, "to": 19, "polarity": 2.0}],
        }
        for i in range(200)
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    got = load_newsmtsc_file(path, seed=13)
    assert got == load_newsmtsc_file(path, seed=13)
    assert 5 <= sum(s.split == "dev" for s in got) <= 40
    assert [(got[0].text[t.start : t.end], t.label) for t in got[0].targets] == [
        ("Smith", "positive"),
        ("Jones", "negative"),
    ]
    assert {s.split for s in load_newsmtsc_file(path, split="test")} == {"test"}
    other = tmp_path / "devtest.jsonl"
    other.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    docs = [s.doc for f in (path, other) for s in load_newsmtsc_file(f, split="test")]
    assert len(set(docs)) == len(docs)  # one-sentence articles: never joined across files into a paragraph


def test_contrast_suite_needs_a_positive_and_a_negative_entity() -> None:
    # the rule is evaluate.contrast_masks' "opposite": a positive and a negative entity in one text, not
    # just two labels (the "Apple flat, Intel up" headline is neutral + positive and stays out)
    headline = "Nvidia rallies as AMD slumps"
    dev = [
        EntityExample(headline, 0, 6, "positive", "sentfin"),
        EntityExample(headline, 18, 21, "negative", "sentfin"),
        EntityExample("Apple flat, Intel up", 0, 5, "neutral", "sentfin"),
        EntityExample("Apple flat, Intel up", 12, 17, "positive", "sentfin"),
    ]
    mixed = FormalSentence(
        "n1",
        0,
        "Smith praised Jones.",
        "dev",
        "newsmtsc",
        ("positive", "negative"),
        (Target(0, 5, "positive"), Target(14, 19, "negative")),
    )
    suite = contrast_suite(FormalData([mixed]), dev, seed=13)
    assert {e.text for e in suite} == {headline, mixed.text}


def test_every_training_file_has_a_licence() -> None:
    from pipeline.model.training.formal import FORMAL_FILES
    from pipeline.model.training.sources import NER_EVAL_FILE, NER_FILES, SENTIMENT_FILES, TOPIC_FILES

    for rel in (*TOPIC_FILES, *SENTIMENT_FILES, *NER_FILES, NER_EVAL_FILE, *FORMAL_FILES):
        assert licence(rel) == LICENCES[rel]
    with pytest.raises(KeyError, match="M030"):
        licence("sentiment/new_set.csv")
