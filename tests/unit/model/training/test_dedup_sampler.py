import random
from collections import Counter

import pytest

from pipeline.model.training.dedup import dedup_tagged, dedup_texts, stratified_split
from pipeline.model.training.examples import TaggedExample, TextExample
from pipeline.model.training.losses import TaskWeighting, class_weights
from pipeline.model.training.sampler import task_probabilities


def test_dedup_on_link_stripped_text_drops_conflicts() -> None:
    ex = [
        TextExample("Apple up https://t.co/a", "up", "s"),
        TextExample("apple up https://t.co/b", "up", "s"),
        TextExample("Tesla https://t.co/c", "up", "s"),
        TextExample("tesla", "down", "s"),
        TextExample("https://t.co/only", "up", "s"),
    ]
    kept, conflicts = dedup_texts(ex)
    assert [e.text for e in kept] == ["Apple up https://t.co/a"]
    assert conflicts == 1


def test_dedup_tagged() -> None:
    a = TaggedExample(("A",), ("B-ORG",), "c")
    assert dedup_tagged([a, a, TaggedExample(("A",), ("O",), "c")]) == [a, TaggedExample(("A",), ("O",), "c")]


def test_stratified_split_keeps_shares_and_is_seeded() -> None:
    items = [(lbl, i) for lbl, n in (("a", 100), ("b", 20), ("c", 2)) for i in range(n)]
    train, dev = stratified_split(items, lambda x: x[0], 0.1, seed=1)
    assert Counter(x[0] for x in dev) == {"a": 10, "b": 2, "c": 1}
    assert len(train) + len(dev) == len(items)
    assert stratified_split(items, lambda x: x[0], 0.1, seed=1) == (train, dev)


def test_temperature_sampling() -> None:
    p1 = task_probabilities({"a": 100, "b": 1}, 1.0)
    p_inf = task_probabilities({"a": 100, "b": 1}, 1e9)
    p2 = task_probabilities({"a": 100, "b": 1}, 2.0)
    assert abs(p1["a"] - 100 / 101) < 1e-9
    assert abs(p_inf["a"] - 0.5) < 1e-6
    assert abs(p2["a"] - 10 / 11) < 1e-9


def test_class_weights_favour_rare_classes() -> None:
    w = class_weights([0] * 90 + [1] * 10, 2)
    assert w[1] > w[0]
    assert abs(float((w[0] * 90 + w[1] * 10) / 100) - 1.0) < 1e-5


def test_uncertainty_weighting_is_learnable() -> None:
    import torch

    tw = TaskWeighting({"a": 2.0}, learned=True)
    loss = tw("a", torch.tensor(1.5))
    assert abs(float(loss.detach()) - 3.0) < 1e-6
    loss.backward()
    assert tw.log_vars["a"].grad is not None
    random.seed(0)


def test_boost_shifts_probability_towards_a_task() -> None:
    plain = task_probabilities({"a": 8, "b": 8}, 3.0)
    boosted = task_probabilities({"a": 8, "b": 8}, 3.0, {"a": 3.0})
    assert plain == {"a": 0.5, "b": 0.5}
    assert boosted["a"] == pytest.approx(0.75)
    assert sum(boosted.values()) == pytest.approx(1.0)
