"""Cost of the fourth output: `Predictor.predict` with and without entity sentiment, same texts and
batches, interleaved rounds (used by `bench/model_throughput.py` and the model card)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.model.predictor import Predictor


@dataclass(frozen=True)
class OutputsCost:
    three_per_s: float  # items/s, topic + sentiment + NER
    four_per_s: float  # items/s, plus entity sentiment
    n: int

    @property
    def slowdown(self) -> float:
        """Relative extra time of the four-output model (0.05 = 5 % slower)."""
        return self.three_per_s / self.four_per_s - 1.0

    def as_dict(self) -> dict[str, float]:
        return {
            "three_outputs_items_per_s": round(self.three_per_s, 1),
            "four_outputs_items_per_s": round(self.four_per_s, 1),
            "slowdown": round(self.slowdown, 4),
            "n": float(self.n),
        }


def outputs_cost(predictor: Predictor, texts: Sequence[str], rounds: int = 3) -> OutputsCost:
    """Best time of each variant over `rounds` interleaved rounds (after one warm-up each), so a
    burst of load from other processes cannot land on one variant only."""
    if predictor.model.entity_head is None:
        raise ValueError("[M021] the checkpoint has no entity head: nothing to compare")
    best = {False: float("inf"), True: float("inf")}
    try:
        for r in range(rounds + 1):
            for four in (False, True):
                predictor.entity_sentiment = four
                t = time.perf_counter()
                predictor.predict(texts)
                if r:
                    best[four] = min(best[four], time.perf_counter() - t)
    finally:
        predictor.entity_sentiment = True
    return OutputsCost(len(texts) / best[False], len(texts) / best[True], len(texts))
