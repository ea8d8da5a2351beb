"""A tiny randomly initialised BERT encoder + fast tokenizer in a temp dir (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from pipeline.model.backbone import sha256_file, weights_file
from pipeline.model.checkpoint import CheckpointSpec, LoadedModel, LoraSpec, attach_lora
from pipeline.model.labels import LabelMaps
from pipeline.model.network import NewsModel
from pipeline.model.predictor import Predictor
from pipeline.model.tickers import Gazetteer

WORDS = (
    "fed signals rate cut as apple shares slide tim cook runs inc in new york the "
    "of and to a $ . , ' s - ! ? : ( ) 1 2 3 4 5 6 7 8 9 0 stock buy sell aapl msft microsoft"
).split()


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny_bert")
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *dict.fromkeys(WORDS + letters + [f"##{c}" for c in letters]),
    ]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(str(path))
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def labels() -> LabelMaps:
    return LabelMaps.default()


@pytest.fixture()
def tiny_model(tiny_backbone: Path, labels: LabelMaps) -> NewsModel:
    torch.manual_seed(0)
    return NewsModel.from_backbone(tiny_backbone, labels).eval()


TINY_LORA = LoraSpec(r=4, alpha=8, dropout=0.0)


@pytest.fixture()
def tiny_lora_model(tiny_backbone: Path, labels: LabelMaps) -> NewsModel:
    torch.manual_seed(0)
    model = attach_lora(NewsModel.from_backbone(tiny_backbone, labels), TINY_LORA)
    with torch.no_grad():  # non-zero adapter and heads, so merging is actually exercised
        for _name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.fixture()
def tiny_lora_spec(tiny_backbone: Path) -> CheckpointSpec:
    """The spec to save `tiny_lora_model` with: real backbone hash, its LoRA shape, short inputs."""
    return CheckpointSpec(
        backbone_sha256=sha256_file(weights_file(tiny_backbone)),
        backbone_package=None,
        backbone_path=str(tiny_backbone),
        lora=TINY_LORA,
        max_length=32,
    )


@pytest.fixture()
def tiny_loaded(tiny_backbone: Path, tiny_model: NewsModel) -> LoadedModel:
    tokenizer = BertTokenizerFast.from_pretrained(str(tiny_backbone))
    spec = CheckpointSpec(
        backbone_sha256="", backbone_package=None, backbone_path=str(tiny_backbone), max_length=32
    )
    return LoadedModel(tiny_model, tokenizer, spec, {"model_version": "tiny-test"})


@pytest.fixture()
def counting_predictor(tiny_loaded: LoadedModel) -> tuple[Predictor, list[int]]:
    """A predictor on the tiny model and the list its encoder appends to on every pass: counted at the
    input embeddings, which every encoder pass (padded or unpadded) goes through exactly once."""
    calls: list[int] = []
    tiny_loaded.model.encoder.get_input_embeddings().register_forward_hook(lambda _m, _i, _o: calls.append(1))
    pred = Predictor(tiny_loaded, device="cpu", max_tokens=4096, max_batch=8, gazetteer=Gazetteer([]))
    return pred, calls
