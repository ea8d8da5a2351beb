"""Kafka client security: built from the settings, handed to every client factory and every call
site (an AST walk, so a new client cannot be made without it), understood by kafka-python and,
through faust, by aiokafka."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import SecretStr

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.security import PLAINTEXT, KafkaSecurity
from pipeline.replay.run_group import start_group_at_end

ROOT = Path(__file__).resolve().parents[3]
SCRAM = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "finsent", SecretStr("s3cret"))
EXPECTED = {
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "finsent",
    "sasl_plain_password": "s3cret",
}


def test_settings_give_every_client_the_same_login() -> None:
    settings = Settings(
        kafka_bootstrap="kafka:9092",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="finsent",
        kafka_sasl_password="s3cret",  # type: ignore[arg-type] # pydantic makes it a SecretStr
    )
    security = KafkaSecurity.from_settings(settings)
    assert security.client_config() == EXPECTED
    assert "s3cret" not in repr(security)
    embedded = settings.model_copy(update={"kafka_bootstrap": None})
    assert KafkaSecurity.from_settings(embedded) is PLAINTEXT  # the embedded broker has no SASL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"protocol": "SASL_PLAINTEXT", "mechanism": "SCRAM-SHA-512", "username": "u"},
            "FINSENT_KAFKA_SASL_PASSWORD",
        ),
        (
            {"protocol": "SASL_SSL", "username": "u", "password": SecretStr("p")},
            "FINSENT_KAFKA_SASL_MECHANISM",
        ),
        (
            {
                "protocol": "SASL_PLAINTEXT",
                "mechanism": "GSSAPI",
                "username": "u",
                "password": SecretStr("p"),
            },
            "GSSAPI",
        ),
        ({"protocol": "TLS"}, "'TLS'"),
    ],
)
def test_incomplete_or_unknown_security_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity(**kwargs)


def test_tls_passes_the_ca_file(tmp_path: Path) -> None:
    config = KafkaSecurity(
        "SASL_SSL", "SCRAM-SHA-256", "u", SecretStr("p"), tmp_path / "ca.pem"
    ).client_config()
    assert config["security_protocol"] == "SASL_SSL" and config["ssl_cafile"] == str(tmp_path / "ca.pem")
    assert PLAINTEXT.client_config() == {"security_protocol": "PLAINTEXT"}


class Made(Exception):
    """Raised by a stand-in client constructor once it has recorded its arguments."""


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Stand-ins for kafka-python's three client classes; each records its configuration."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for cls in (KafkaProducer, KafkaConsumer, KafkaAdminClient):

        def record(*_: Any, _client: str = cls.__name__, **config: Any) -> None:
            calls.append((_client, config))
            raise Made

        monkeypatch.setattr(clients, cls.__name__, record)
    return calls


FACTORIES: dict[str, Callable[[KafkaSecurity], object]] = {
    "make_producer": lambda s: clients.make_producer("kafka:9092", security=s),
    "make_consumer": lambda s: clients.make_consumer("kafka:9092", group_id="g", security=s),
    "ensure_topics": lambda s: clients.ensure_topics("kafka:9092", ["t"], partitions=1, security=s),
    "topic_end_offsets": lambda s: clients.topic_end_offsets("kafka:9092", "t", security=s),
    "committed_offsets": lambda s: clients.committed_offsets("kafka:9092", "g", "t", security=s),
    "start_group_at_end": lambda s: start_group_at_end("kafka:9092", "t", "g", security=s),
}


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_every_client_factory_passes_the_login(made: list[tuple[str, dict[str, Any]]], factory: str) -> None:
    with pytest.raises(Made):
        FACTORIES[factory](SCRAM)
    (name, config), *_ = made
    assert EXPECTED.items() <= config.items()
    known = {
        "KafkaProducer": KafkaProducer,
        "KafkaConsumer": KafkaConsumer,
        "KafkaAdminClient": KafkaAdminClient,
    }
    assert set(config) - {"bootstrap_servers"} <= set(
        known[name].DEFAULT_CONFIG
    )  # kafka-python knows each key


def test_faust_and_aiokafka_get_the_login() -> None:
    import faust
    from aiokafka import AIOKafkaConsumer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    settings = clients.faust_settings("kafka:9092", partitions=2, web_port=6066, security=SCRAM)
    app = faust.App("finsent-test", **settings)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert {k: auth[k] for k in EXPECTED} == EXPECTED and auth["ssl_context"] is None
    assert set(auth) <= set(AIOKafkaConsumer.__init__.__code__.co_varnames)
    assert clients.faust_settings("kafka:9092", partitions=2)["broker_credentials"] is None


CLIENT_FUNCTIONS = {
    "make_producer",
    "make_consumer",
    "ensure_topics",
    "topic_end_offsets",
    "committed_offsets",
    "faust_settings",
    "start_group_at_end",
    "caught_up",
    "KafkaTopicSource",
}
RAW_CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "AIOKafkaConsumer", "AIOKafkaProducer"}
EMBEDDED_ONLY = {("pipeline/kafka/broker.py", "KafkaAdminClient")}  # the embedded broker's readiness probe


def test_every_call_site_passes_security() -> None:
    """Each client made in `pipeline/` and `workers/` gets `security=` (a borrowed `consumer=` needs
    none); only `pipeline/kafka/clients.py` builds kafka-python clients itself."""
    missing = []
    for path in sorted([*ROOT.glob("pipeline/**/*.py"), *ROOT.glob("workers/**/*.py")]):
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            keywords = {k.arg for k in node.keywords}
            if name in CLIENT_FUNCTIONS and not keywords & {"security", "consumer"}:
                missing.append(f"{where}:{node.lineno} {name}")
            if (
                name in RAW_CLIENTS
                and where != "pipeline/kafka/clients.py"
                and (where, name) not in EMBEDDED_ONLY
            ):
                missing.append(f"{where}:{node.lineno} {name} (use pipeline.kafka.clients)")
    assert missing == []
