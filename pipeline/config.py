"""The one settings object. Build it once at the entry point (`Settings()`) and pass it down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import topics


class Settings(BaseSettings):
    """Every knob of finsent; each field reads `FINSENT_<NAME>` from the environment or `.env`."""

    model_config = SettingsConfigDict(env_prefix="FINSENT_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path(".finsent"), description="where embedded-default state lives")
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; unset = SQLite file under data_dir"
    )
    kafka_bootstrap: str | None = Field(default=None, description="host:port[,...]; unset = embedded broker")
    kafka_partitions: int = Field(default=4, ge=1)
    kafka_client_id: str = "finsent"
    kafka_connect_timeout_s: float = Field(
        default=15.0, gt=0, description="how long a command waits for the broker to answer and its topics to exist"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT", description="how every Kafka client connects; SASL_* needs the SASL settings"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism of the Kafka clients (SCRAM-SHA-512 in compose)"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle for SSL / SASL_SSL; unset = system")

    topic_raw: str = topics.RAW
    topic_enriched: str = topics.ENRICHED
    topic_dlq: str = topics.DLQ
    topic_alerts: str = topics.ALERTS
    topic_replay: str = topics.REPLAY
    model_group: str = "finsent-model"
    alerts_group: str = "finsent-alerts"

    model_path: Path | None = Field(default=None, description="checkpoint dir; unset = shipped default")
    model_device: str | None = Field(default=None, description="cpu, cuda, cuda:1 ...; unset = best")
    model_threads: int | None = Field(default=None, ge=1)
    model_quantize: bool = Field(default=False, description="int8 dynamic quantization on CPU")

    batch_max_items: int = Field(default=128, ge=1)
    batch_max_ms: int = Field(default=200, ge=1)
    batch_max_tokens: int = Field(default=16_384, ge=64)

    webhook_secret: SecretStr | None = Field(
        default=None, description="secret of the `default` receiver (whsec_<base64> or any string)"
    )
    webhook_url: str | None = Field(default=None, description="URL of the `default` webhook receiver")
    alerts_receivers_path: Path | None = Field(default=None, description="YAML file of webhook receivers")
    rules_path: Path | None = Field(default=None, description="alert rules YAML; unset = shipped defaults")
    alerts_interval_s: float = Field(
        default=4.0, gt=0, description="seconds between rule evaluations (the tick grid, event time)"
    )
    alerts_dispatch_interval_s: float = Field(default=2.0, gt=0, description="seconds between outbox scans")
    alerts_model_version: str | None = Field(
        default=None, description="model version the rules evaluate; unset = `finsent model activate`'s"
    )
    alerts_allowed_lateness_s: float = Field(
        default=60.0, ge=0, description="a tick is evaluated this long after its event time"
    )
    alerts_max_catch_up_s: float = Field(
        default=86_400.0, ge=0, description="after downtime, missed ticks up to this far back are evaluated"
    )
    stream_group: str = Field(default="finsent-stream", description="consumer group of `finsent worker stream`")
    watchlist_refresh_s: float = Field(
        default=1.0, gt=0, description="how often a stream worker checks the watchlists for changes"
    )
    stream_shutdown_s: float = Field(
        default=15.0, gt=0, description="a stream worker that takes longer to stop than this exits anyway"
    )
    stream_dispatch: bool = Field(
        default=True, description="stream workers also send the outbox as soon as they queue notices"
    )
    webhook_lease_s: float = Field(default=120.0, gt=0, description="a dispatcher's hold on a webhook it sends")
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_max_age_s: float = Field(default=86_400.0, gt=0, description="give up on a webhook after this")
    public_url: str = Field(default="http://localhost:8080", description="base of links back in alerts")
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = Field(
        default="127.0.0.1", description="address of the workers' metrics port; 0.0.0.0 to expose it"
    )
    api_tokens: str | None = Field(
        default=None, description="hashed API tokens NAME:SCOPES:sha256:HEX, comma separated"
    )
    api_tokens_path: Path | None = Field(default=None, description="YAML file of hashed API tokens")
    http_read_timeout_s: float = Field(
        default=15.0, gt=0, description="seconds a client has to send a request's headers, and its body"
    )
    dashboard_refresh_s: float = Field(
        default=15.0, gt=0, description="seconds between an open dashboard page's reloads of its data"
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="how long a dashboard sign-in (session cookie) lasts"
    )
    rate_login_per_min: float = Field(
        default=30.0, ge=0, description="sign-in attempts per client address a minute (burst as many); 0 = no limit"
    )
    rate_token_per_s: float = Field(
        default=100.0, ge=0, description="requests per token (principal) a second, sustained; 0 = no limit"
    )
    rate_token_burst: int = Field(default=1000, ge=1, description="requests a token may make at once above its rate")
    db_statement_timeout_ms: int = Field(
        default=5000, ge=0, description="Postgres statement_timeout of the HTTP API's queries (ms); 0 = none"
    )
    cors_origins: str | None = Field(
        default=None, description="origins allowed to call the API from a browser (comma separated); unset = no CORS"
    )
    allowed_hosts: str | None = Field(
        default=None,
        description="Host names served besides the public URL's, loopback and IP addresses (comma separated)",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="proxy addresses whose X-Forwarded-For/-Proto are trusted (comma separated, CIDR or *); "
        "unset = uvicorn's default (127.0.0.1)",
    )
    dedup_retention_hours: float = Field(
        default=168.0, gt=0, description="how long ingest remembers a produced item (durable dedup)"
    )
    feeds_allow_private: bool = Field(
        default=False, description="let feeds (and their redirects) reach loopback/private/link-local addresses"
    )
    feeds_allow_hosts: str | None = Field(
        default=None, description="feed hosts exempt from the public-address check (comma separated)"
    )
    log_json: bool = False
    log_level: str = "INFO"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL to connect to (the SQLite default when none is configured)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'finsent.db').resolve()}"
