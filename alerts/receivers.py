"""Webhook receivers: name, URL, secret, format (json | slack), timeout.

From a YAML file (`FINSENT_ALERTS_RECEIVERS_PATH`) and/or the environment: `FINSENT_WEBHOOK_URL`
plus `FINSENT_WEBHOOK_SECRET` define a receiver named `default`.

```yaml
receivers:
  - name: research-desk
    url: https://hooks.example.com/finsent
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw   # or secret_env: DESK_WEBHOOK_SECRET
    format: json          # json | slack
    timeout_s: 5
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from pipeline.config import Settings

DEFAULT_RECEIVER = "default"


class Receiver(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    secret: SecretStr
    format: Literal["json", "slack"] = "json"
    timeout_s: float = Field(default=5.0, gt=0, le=120)


class _ReceiverEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    url: str
    secret: SecretStr | None = None
    secret_env: str | None = None
    format: Literal["json", "slack"] = "json"
    timeout_s: float = 5.0

    @model_validator(mode="after")
    def _one_secret(self) -> _ReceiverEntry:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret, secret_env")
        return self


class ReceiversError(ValueError):
    """[ALR030] The receivers file is not valid."""


def load_receivers_file(path: Path, *, env: Mapping[str, str] | None = None) -> dict[str, Receiver]:
    env = os.environ if env is None else env
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReceiversError(f"[ALR030] {path}: {exc}") from exc
    out: dict[str, Receiver] = {}
    for index, item in enumerate(data.get("receivers", []) if isinstance(data, dict) else []):
        try:
            entry = _ReceiverEntry.model_validate(item)
            secret = entry.secret
            if entry.secret_env is not None:
                if entry.secret_env not in env:
                    raise ReceiversError(
                        f"[ALR030] {path}: receivers[{index}]: ${entry.secret_env} is not set"
                    )
                secret = SecretStr(env[entry.secret_env])
            receiver = Receiver(
                name=entry.name, url=entry.url, secret=secret, format=entry.format, timeout_s=entry.timeout_s
            )
        except ValidationError as exc:
            raise ReceiversError(f"[ALR030] {path}: receivers[{index}]: {exc}") from exc
        if receiver.name in out:
            raise ReceiversError(f"[ALR030] {path}: receivers[{index}]: duplicate name {receiver.name!r}")
        out[receiver.name] = receiver
    return out


def load_receivers(settings: Settings) -> dict[str, Receiver]:
    """Receivers from `settings.alerts_receivers_path` plus the `default` one from the environment."""
    out: dict[str, Receiver] = {}
    if settings.alerts_receivers_path is not None:
        out.update(load_receivers_file(settings.alerts_receivers_path))
    if settings.webhook_url:
        if settings.webhook_secret is None:
            raise ReceiversError("[ALR031] FINSENT_WEBHOOK_URL is set but FINSENT_WEBHOOK_SECRET is not")
        out.setdefault(
            DEFAULT_RECEIVER,
            Receiver(
                name=DEFAULT_RECEIVER,
                url=settings.webhook_url,
                secret=settings.webhook_secret,
                timeout_s=settings.webhook_timeout_s,
            ),
        )
    return out
