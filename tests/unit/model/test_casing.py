from pipeline.model import casing
from pipeline.model.casing import casing_id, casing_ids


def test_classes() -> None:
    assert casing_id("apple") == casing.LOWER
    assert casing_id("Apple") == casing.INIT_CAP
    assert casing_id("IBM") == casing.ALL_CAPS
    assert casing_id("iPhone") == casing.MIXED
    assert casing_id("Q3") == casing.HAS_DIGIT
    assert casing_id(",") == casing.PUNCT
    assert casing_id("") == casing.PAD


def test_subtoken_inherits_word_initial_capital() -> None:
    text = "Zuckerberg sold"
    # "zu", "##cker", "##berg", "sold" plus a special token
    offsets = [(0, 0), (0, 2), (2, 6), (6, 10), (11, 15)]
    assert casing_ids(text, offsets) == [
        casing.PAD,
        casing.INIT_CAP,
        casing.INIT_CAP,
        casing.INIT_CAP,
        casing.LOWER,
    ]
