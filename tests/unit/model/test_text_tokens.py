from pipeline.model.text import mask_text, strip_links
from pipeline.model.tokens import encode, tokenize


def test_mask_keeps_length_and_blanks_links_and_controls() -> None:
    text = "Apple up\x00 https://t.co/abc now\u200b"
    masked = mask_text(text)
    assert len(masked) == len(text)
    assert "http" not in masked and "\x00" not in masked
    assert masked.startswith("Apple up")


def test_strip_links_is_the_dedup_key() -> None:
    assert strip_links("Apple  UP https://t.co/x") == strip_links("apple up https://t.co/y") == "apple up"


def test_offsets_point_into_original_text(tiny_backbone) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_backbone))
    text = "See https://t.co/zz Tim Cook, Apple"
    (t,) = tokenize(tok, [text], 64)
    pieces = [text[s:e] for s, e in t.offsets if e > s]
    assert "".join(pieces) == "SeeTimCook,Apple"
    assert len(t.casing_ids) == len(t.input_ids) == len(t.word_ids)


def test_encode_pads(tiny_backbone) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_backbone))
    enc = encode(tok, ["a", "apple shares slide"], 16)
    assert enc.input_ids.shape == enc.attention_mask.shape == enc.casing_ids.shape
    assert enc.attention_mask[0].sum() < enc.attention_mask[1].sum()
