"""The continued stage's pure parts: contrast masks, mixed-headline oversampling, layer-wise LR decay."""

from __future__ import annotations

import torch
from torch import nn

from pipeline.model.evaluate import contrast_masks
from pipeline.model.training.continued import encoder_depth, layerwise_groups, with_mixed_repeated
from pipeline.model.training.examples import EntityExample

RALLY = "Nvidia rallies as AMD slumps"
BOTH_UP = "Apple and Samsung rise"
FLAT = "Intel steady, Arm up"


def ex(text: str, entity: str, label: str) -> EntityExample:
    start = text.index(entity)
    return EntityExample(text, start, start + len(entity), label, "test")


EXAMPLES = [
    ex(RALLY, "Nvidia", "positive"),
    ex(RALLY, "AMD", "negative"),
    ex(BOTH_UP, "Apple", "positive"),
    ex(BOTH_UP, "Samsung", "positive"),
    ex(FLAT, "Intel", "neutral"),
    ex(FLAT, "Arm", "positive"),
]


def test_contrast_masks_mark_texts_whose_entities_disagree() -> None:
    masks = contrast_masks(EXAMPLES)
    assert masks["mixed"].tolist() == [True, True, False, False, True, True]
    assert masks["opposite"].tolist() == [True, True, False, False, False, False]


def test_mixed_examples_are_repeated_and_the_rest_kept_once() -> None:
    out = with_mixed_repeated(EXAMPLES, 3)
    assert len(out) == len(EXAMPLES) + 2 * 4
    assert sum(e.entity == "AMD" for e in out) == 3 and sum(e.entity == "Apple" for e in out) == 1
    assert with_mixed_repeated(EXAMPLES, 1) == EXAMPLES


def test_encoder_depth_orders_embeddings_layers_and_the_rest() -> None:
    assert encoder_depth("encoder.embeddings.word_embeddings.weight", 6) == 0
    assert encoder_depth("encoder.encoder.layer.0.attention.self.query.weight", 6) == 1
    assert encoder_depth("encoder.encoder.layer.5.output.dense.bias", 6) == 6
    assert encoder_depth("encoder.pooler.dense.weight", 6) == 7


def test_layerwise_groups_decay_the_rate_downwards_and_keep_heads_apart() -> None:
    p = {n: nn.Parameter(torch.zeros(1)) for n in ("e", "l0", "l1", "head")}
    named = [
        ("encoder.embeddings.x", p["e"]),
        ("encoder.encoder.layer.0.x", p["l0"]),
        ("encoder.encoder.layer.1.x", p["l1"]),
        ("topic_head.weight", p["head"]),
    ]
    groups = layerwise_groups(named, 2, lr=1.0, head_lr=5.0, decay=0.5)
    rate = {id(q): g["lr"] for g in groups for q in g["params"]}
    assert [rate[id(p[k])] for k in ("e", "l0", "l1", "head")] == [0.125, 0.25, 0.5, 5.0]
    flat = layerwise_groups(named, 2, lr=1.0, head_lr=5.0, decay=1.0)
    assert sorted(g["lr"] for g in flat) == [1.0, 5.0]
