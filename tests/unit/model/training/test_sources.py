import json

from pipeline.model.training.examples import TaggedExample
from pipeline.model.training.sources import (
    bucket,
    load_fiqa_file,
    load_semeval_file,
    load_sentfin_file,
    map_tag,
    read_conll,
    to_bio,
)


def test_io_and_iob1_become_bio() -> None:
    assert to_bio(["I-ORG", "I-ORG", "O", "I-PER", "I-LOC"]) == ["B-ORG", "I-ORG", "O", "B-PER", "B-LOC"]
    assert to_bio(["B-PER", "I-PER", "B-PER"]) == ["B-PER", "I-PER", "B-PER"]


def test_wnut_types_are_mapped() -> None:
    assert map_tag("B-corporation") == "B-ORG"
    assert map_tag("I-group") == "I-ORG"
    assert map_tag("B-person") == "B-PER"
    assert map_tag("B-creative-work") == "B-MISC"
    assert map_tag("B-unknown") == "O"


def test_read_conll_columns_docstart_and_tabs(tmp_path) -> None:
    p = tmp_path / "x.conll"
    p.write_text(
        "-DOCSTART- -X- O O\n\nSILICON NNP - I-ORG\nVALLEY NNP - I-ORG\nsaid VBD - O\n\nTim\tB-person\n"
    )
    sents = read_conll(p, "x")
    assert sents[0] == TaggedExample(("SILICON", "VALLEY", "said"), ("B-ORG", "I-ORG", "O"), "x")
    assert sents[1].tags == ("B-PER",)
    text, spans = sents[0].text_and_spans()
    assert [text[s:e] for s, e in spans] == ["SILICON", "VALLEY", "said"]


def test_sentfin_regex_handles_apostrophes_and_disagreement(tmp_path) -> None:
    p = tmp_path / "s.csv"
    p.write_text(
        "S No.,Title,Decisions,Words\n"
        "1,Moody's cuts X,\"{'Moody's': 'negative', 'X': 'negative'}\",3\n"
        "2,A up B down,\"{'A': 'positive', 'B': 'negative'}\",4\n"
    )
    rows = list(load_sentfin_file(p))
    assert [(r.text, r.label) for r in rows] == [("Moody's cuts X", "negative")]


def test_score_buckets_and_score_files(tmp_path) -> None:
    assert (bucket(-0.1), bucket(0.05), bucket(0.1)) == ("negative", "neutral", "positive")
    sem = tmp_path / "sem.json"
    sem.write_text(
        json.dumps(
            [
                {"id": 1, "company": "A", "title": "Â£5bn deal", "sentiment": 0.5},
                {"id": 2, "company": "B", "title": "Â£5bn deal", "sentiment": -0.5},
                {"id": 3, "company": "C", "title": "C falls", "sentiment": -0.3},
            ]
        )
    )
    assert [(e.text, e.label) for e in load_semeval_file(sem)] == [("C falls", "negative")]
    fiqa = tmp_path / "fiqa.json"
    fiqa.write_text(json.dumps({"1": {"sentence": "$X up", "info": [{"sentiment_score": "0.4"}]}}))
    assert [e.label for e in load_fiqa_file(fiqa)] == ["positive"]
