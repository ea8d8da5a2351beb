"""Receivers from a YAML file and from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from alerts.receivers import ReceiversError, load_receivers, load_receivers_file
from pipeline.config import Settings


def test_file_with_inline_and_env_secrets(tmp_path: Path) -> None:
    path = tmp_path / "receivers.yaml"
    path.write_text(
        "receivers:\n"
        "  - {name: desk, url: 'https://hooks.example.com/a', secret: whsec_abc=, timeout_s: 2}\n"
        "  - {name: chat, url: 'https://hooks.slack.com/x', secret_env: CHAT_SECRET, format: slack}\n"
    )
    receivers = load_receivers_file(path, env={"CHAT_SECRET": "s3cret"})
    assert receivers["desk"].timeout_s == 2 and receivers["desk"].format == "json"
    assert receivers["chat"].format == "slack" and receivers["chat"].secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(receivers)
    with pytest.raises(ReceiversError, match=r"receivers\[1\]: \$CHAT_SECRET is not set"):
        load_receivers_file(path, env={})


def test_default_receiver_from_settings(tmp_path: Path) -> None:
    settings = Settings(webhook_url="http://127.0.0.1:9000/hook", webhook_secret=SecretStr("whsec_abc="))
    assert list(load_receivers(settings)) == ["default"]
    assert load_receivers(Settings(webhook_url=None)) == {}
    with pytest.raises(ReceiversError, match="FINSENT_WEBHOOK_SECRET"):
        load_receivers(Settings(webhook_url="http://x/hook", webhook_secret=None))
