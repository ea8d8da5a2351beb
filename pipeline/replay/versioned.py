"""A predictor that reports another `model_version`: `--model-version` re-scores under a new name."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.enrichment import PredictionLike, PredictorLike


class VersionedPredictor:
    """Delegates `predict` to `inner`; `model_version` is `version` (old results stay under theirs)."""

    def __init__(self, inner: PredictorLike, version: str) -> None:
        if not version or len(version) > 100:
            raise ValueError(f"[RPL002] model version must be 1-100 characters, not {version!r}")
        self.inner = inner
        self.model_version = version

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]:
        return self.inner.predict(texts)


def with_version(predictor: PredictorLike, version: str | None) -> PredictorLike:
    """`predictor` itself when `version` is None or already its version, else a wrapper."""
    if version is None or version == predictor.model_version:
        return predictor
    return VersionedPredictor(predictor, version)
