import numpy as np

from pipeline.model.metrics import accuracy, entity_scores, expected_calibration_error, macro_f1


def test_classification_metrics() -> None:
    assert accuracy([0, 1, 1], [0, 1, 0]) == 2 / 3
    assert abs(macro_f1([0, 1, 1], [0, 1, 0], 2) - (2 / 3 + 2 / 3) / 2) < 1e-9


def test_ece_zero_when_calibrated_and_confident() -> None:
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error([0, 1], probs) == 0.0
    assert expected_calibration_error([1, 0], probs) == 1.0


def test_entity_scores_strict() -> None:
    gold = [["B-PER", "I-PER", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC"]]
    s = entity_scores(gold, pred)
    assert s["precision"] == s["recall"] == s["f1"] == 0.5
