"""`model_version` says which numerics produced a result, so results of different numerics never mix."""

from __future__ import annotations

import torch
from torch import nn

from pipeline.model.checkpoint import LoadedModel
from pipeline.model.predictor import Predictor, numerics_version


def test_version_suffix_per_numerics() -> None:
    assert numerics_version("v3", torch.float32, quantized=False) == "v3"
    assert numerics_version("v3", torch.float32, quantized=True) == "v3+int8"
    assert numerics_version("v3", torch.bfloat16, quantized=False) == "v3+bf16"
    assert numerics_version("v3", torch.float16, quantized=False) == "v3+fp16"


def test_quantized_predictor_has_int8_linear_layers_and_says_so(tiny_loaded: LoadedModel) -> None:
    quantized = Predictor(tiny_loaded, device="cpu", quantize=True)
    assert quantized.model_version == "tiny-test+int8"
    kinds = {type(m) for m in quantized.model.modules()}
    assert torch.ao.nn.quantized.dynamic.Linear in kinds and nn.Linear not in kinds
    (pred,) = quantized.predict(["fed signals rate cut as apple shares slide"])
    assert abs(sum(pred.sentiment_probs.values()) - 1.0) < 1e-4
