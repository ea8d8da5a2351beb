"""`Predictor.predict` throughput by call size, padded forward vs unpadded, on real headlines.

    .venv/bin/python bench/predict_batching.py [--n 1024] [--threads 1] [--rounds 3] [--sizes 1024 128 64]

The same N headlines (SEntFiN titles and finance-news tweets from ../shared/data, seed 0) handed to
`predict` all in one call, and in calls of 128 and 64 (the model worker's micro-batches and `finsent
replay`'s batches), by two predictors on the same loaded checkpoint: `Predictor(unpadded_forward=
False)` (the padded forward, as before issue 18) and the unpadded forward (the CPU default).
Interleaved rounds, best time per configuration, so a burst of load from other processes cannot
land on one configuration only. Prints the padding of the call sizes, the largest probability
difference between the two forwards, and docs/s with each row's share of the same forward's
one-call figure.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline.model.batching import token_budget_batches  # noqa: E402
from pipeline.model.checkpoint import load_model  # noqa: E402
from pipeline.model.predictor import Prediction, Predictor  # noqa: E402
from pipeline.model.tokens import tokenize  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
HEADLINE_FILES = (
    ("sentiment/sentfin/SEntFiN.csv", "Title"),
    ("topic/twitter_fin_topic_train.csv", "text"),
    ("sentiment/twitter_fin_sentiment_train.csv", "text"),
)


def real_headlines(n: int, seed: int = 0) -> list[str]:
    """`n` headlines drawn from SEntFiN's titles and the finance-news tweet files (mean ~22 word
    pieces, a long tail up to ~100: a random batch of 64 pads to ~2.8x its real tokens)."""
    texts: list[str] = []
    for rel, column in HEADLINE_FILES:
        with (DATA / rel).open(encoding="utf-8", newline="") as f:
            texts += [row[column] for row in csv.DictReader(f)]
    if n <= len(texts):
        return random.Random(seed).sample(texts, n)
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(n)]


def in_calls(predictor: Predictor, texts: Sequence[str], size: int) -> Callable[[], list[Prediction]]:
    def run() -> list[Prediction]:
        return [p for i in range(0, len(texts), size) for p in predictor.predict(texts[i : i + size])]

    return run


def padding(lengths: Sequence[int], size: int, predictor: Predictor) -> float:
    """Positions / real tokens of the padded forward when `lengths` are handed over `size` at a
    time (each call sorted into the predictor's token-budget batches)."""
    chunks = [lengths[i : i + size] for i in range(0, len(lengths), size)]
    batches = [
        [c[k] for k in b]
        for c in chunks
        for b in token_budget_batches(c, predictor.max_tokens, predictor.max_batch)
    ]
    return sum(len(b) * max(b) for b in batches) / sum(lengths)


def max_difference(a: Sequence[Prediction], b: Sequence[Prediction]) -> float:
    """Largest absolute difference of any topic score or sentiment probability between two runs."""
    diffs = [abs(x.topic_score - y.topic_score) for x, y in zip(a, b, strict=True)]
    for x, y in zip(a, b, strict=True):
        diffs += [abs(x.sentiment_probs[k] - y.sentiment_probs[k]) for k in x.sentiment_probs]
    return max(diffs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 128, 64], help="texts per predict call")
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    texts = real_headlines(args.n)
    loaded = load_model(args.model)
    forwards = {
        "padded": Predictor(loaded, device="cpu", unpadded_forward=False),
        "unpadded": Predictor(loaded, device="cpu", unpadded_forward=True),
    }
    lengths = [len(t.input_ids) for t in tokenize(loaded.tokenizer, texts, loaded.spec.max_length)]
    print(
        f"{args.n} headlines: mean {np.mean(lengths):.1f} word pieces, longest {max(lengths)}; "
        + ", ".join(f"calls of {s} pad to {padding(lengths, s, forwards['padded']):.2f}x" for s in args.sizes)
        + f"; model {forwards['padded'].model_version}, torch {torch.__version__}, {args.threads} thread(s)"
    )
    runners = {(name, s): in_calls(p, texts, s) for name, p in forwards.items() for s in args.sizes}
    head = texts[: min(args.sizes)]
    outputs = {name: p.predict(head) for name, p in forwards.items()}  # warm-up, and outputs to compare
    reference = outputs["padded"]
    print(
        f"largest topic/sentiment probability difference vs padded: {max(max_difference(reference, o) for o in outputs.values()):.2e}"
    )
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(args.rounds):
        for key, run in runners.items():
            started = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - started)
    one_call = {name: args.n / best[(name, max(args.sizes))] for name in forwards}
    print(f"\n{'forward':<10}{'per call':>9}{'docs/s':>9}{'of its 1 call':>15}{'of padded 1 call':>18}")
    for (name, size), seconds in best.items():
        rate = args.n / seconds
        print(
            f"{name:<10}{size:>9}{rate:>9.1f}{rate / one_call[name]:>15.0%}{rate / one_call['padded']:>18.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
