import dataclasses
import json

import pytest
import torch

from pipeline.model.backbone import BackboneError, sha256_file, weights_file
from pipeline.model.checkpoint import FULL_FINETUNE, CheckpointSpec, load_model, save_checkpoint


def test_round_trip_merges_lora(tmp_path, tiny_lora_model, tiny_lora_spec) -> None:
    save_checkpoint(tiny_lora_model, tiny_lora_spec, tmp_path, dtype=torch.float32)
    loaded = load_model(tmp_path)
    assert loaded.model.labels == tiny_lora_model.labels
    assert json.loads((tmp_path / "labels.json").read_text())["sentiment"] == [
        "negative",
        "neutral",
        "positive",
    ]
    assert not any("lora" in n for n, _ in loaded.model.named_parameters())
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    casing = torch.tensor([[0, 1, 2, 3, 0]])
    want = tiny_lora_model(ids, torch.ones_like(ids), casing)
    got = loaded.model(ids, torch.ones_like(ids), casing)
    torch.testing.assert_close(got.topic_logits, want.topic_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.ner_logits, want.ner_logits, atol=1e-4, rtol=1e-4)


def test_backbone_hash_mismatch_is_a_clear_error(tmp_path, tiny_lora_model, tiny_lora_spec) -> None:
    spec = dataclasses.replace(tiny_lora_spec, backbone_sha256="0" * 64)
    save_checkpoint(tiny_lora_model, spec, tmp_path)
    with pytest.raises(BackboneError, match="SHA-256"):
        load_model(tmp_path)


def test_fp16_artifact_is_small(tmp_path, tiny_backbone, tiny_lora_model) -> None:
    spec = CheckpointSpec(backbone_sha256="", backbone_package=None, backbone_path=str(tiny_backbone))
    save_checkpoint(tiny_lora_model, spec, tmp_path)
    n = sum(p.numel() for p in tiny_lora_model.parameters() if p.requires_grad)
    assert (tmp_path / "weights.safetensors").stat().st_size < n * 2 + 64_000


def test_full_finetune_is_stored_as_delta_from_the_backbone(tmp_path, tiny_backbone, labels) -> None:
    from pipeline.model.checkpoint import DELTA, WEIGHTS, attach_lora
    from pipeline.model.network import NewsModel

    torch.manual_seed(0)
    model = attach_lora(NewsModel.from_backbone(tiny_backbone, labels), FULL_FINETUNE)
    assert not model.encoder.get_input_embeddings().weight.requires_grad
    base = {
        n: p.detach().clone()
        for n, p in model.named_parameters()
        if p.requires_grad and n.startswith("encoder.")
    }
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    spec = CheckpointSpec(
        backbone_sha256=sha256_file(weights_file(tiny_backbone)),
        backbone_package=None,
        backbone_path=str(tiny_backbone),
        lora=FULL_FINETUNE,
    )
    save_checkpoint(model, spec, tmp_path, base=base)
    assert (tmp_path / DELTA).is_file() and (tmp_path / WEIGHTS).is_file()
    loaded = load_model(tmp_path).model
    model.eval()
    ids = torch.tensor([[2, 10, 11, 3]])
    casing = torch.tensor([[0, 1, 2, 0]])
    torch.testing.assert_close(
        loaded(ids, torch.ones_like(ids), casing).sentiment_logits,
        model(ids, torch.ones_like(ids), casing).sentiment_logits,
        atol=2e-3,
        rtol=1e-3,
    )
