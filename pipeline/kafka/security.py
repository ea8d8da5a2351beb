"""How finsent's Kafka clients authenticate: one value, built from the settings at the entry point
and handed to every client factory in `pipeline.kafka.clients` (kafka-python and, through faust,
aiokafka).

`FINSENT_KAFKA_SECURITY_PROTOCOL` is PLAINTEXT (the default), SASL_PLAINTEXT, SASL_SSL or SSL;
the SASL ones need `FINSENT_KAFKA_SASL_MECHANISM` (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512),
`FINSENT_KAFKA_SASL_USERNAME` and `FINSENT_KAFKA_SASL_PASSWORD`. The embedded broker (no
`FINSENT_KAFKA_BOOTSTRAP`) listens on loopback without authentication and is always PLAINTEXT.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from pipeline.config import Settings

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """A Kafka client's transport security and SASL login (the password stays a `SecretStr`)."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    cafile: Path | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"Kafka security protocol {self.protocol!r}: use one of {', '.join(PROTOCOLS)}")
        if self.sasl:
            missing = [
                f"FINSENT_KAFKA_SASL_{name.upper()}"
                for name, value in (
                    ("mechanism", self.mechanism),
                    ("username", self.username),
                    ("password", self.password),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"Kafka security protocol {self.protocol} needs {', '.join(missing)}")
            if self.mechanism not in MECHANISMS:
                raise ValueError(f"SASL mechanism {self.mechanism!r}: use one of {', '.join(MECHANISMS)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        """The configured security for `FINSENT_KAFKA_BOOTSTRAP`; PLAINTEXT for the embedded broker."""
        if not settings.kafka_bootstrap:
            return PLAINTEXT
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            cafile=settings.kafka_ssl_cafile,
        )

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer / KafkaConsumer / KafkaAdminClient."""
        config: dict[str, Any] = {"security_protocol": self.protocol}
        if self.sasl:
            assert self.password is not None  # checked in __post_init__
            config |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        if self.tls and self.cafile is not None:
            config["ssl_cafile"] = str(self.cafile)
        return config

    def faust_credentials(self) -> CredentialsT | None:
        """`broker_credentials` for `faust.App` (faust hands them to aiokafka); None for PLAINTEXT."""
        from faust.auth import SASLCredentials, SSLCredentials

        context = ssl.create_default_context(cafile=self.cafile) if self.tls else None
        if self.sasl:
            assert self.password is not None
            return SASLCredentials(
                username=self.username,
                password=self.password.get_secret_value(),
                mechanism=self.mechanism,
                ssl_context=context,
            )
        return SSLCredentials(context) if context is not None else None


PLAINTEXT = KafkaSecurity()
