"""Replay and backfill: sources of historical news, checkpoints, rate limits, version overrides.

Library code only (no process loops): `workers/replay.py` runs a replay, `workers/commands/replay.py`
is the `finsent replay` command.

- `sources`: archive files, stored articles (keyset-paginated), a Kafka topic from a point in time;
  each yields `SourceItem`s (a `RawNews` or a dead letter) with a resumable position;
- `offsets`: the first offset at a timestamp, verified, with a binary-search fallback (Tansu);
- `checkpoint`: run ids from the normalised arguments, atomic JSON checkpoints;
- `rate`: a token bucket for `--rate`;
- `versioned`: a predictor under another `model_version`;
- `compare`: per-topic sentiment shift between two model versions.
"""
