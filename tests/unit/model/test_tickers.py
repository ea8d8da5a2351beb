from pipeline.model.tickers import Gazetteer, default_gazetteer, normalize_name


def test_normalize_strips_corporate_suffixes() -> None:
    assert normalize_name("The Apple Inc.") == "apple"
    assert normalize_name("Tesla, Inc.") == "tesla"


def test_gazetteer_names_first_words_and_symbols() -> None:
    g = Gazetteer(
        [
            ("Apple Inc.", "AAPL"),
            ("JPMorgan Chase", "JPM"),
            ("American Express", "AXP"),
            ("American Tower", "AMT"),
        ]
    )
    assert g.lookup("Apple") == "AAPL"
    assert g.lookup("JPMorgan") == "JPM"
    assert g.lookup("American") is None
    assert g.lookup("AXP") == "AXP"
    assert g.lookup("Banana") is None


def test_default_gazetteer_from_pytickersymbols() -> None:
    g = default_gazetteer()
    assert g.lookup("Apple") == "AAPL"
    assert g.lookup("Microsoft") == "MSFT"
