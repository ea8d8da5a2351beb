"""Mistakes a user can make, told in one line: what was tried, what failed, which setting to check.

`explain(exc, settings)` maps an exception escaping a command onto a `Problem` (a message and an
exit code), or None for a bug, whose traceback the user should see. `finsent --debug` (or
`FINSENT_LOG_LEVEL=DEBUG`) shows the traceback of every failure.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from alerts.receivers import ReceiversError
from alerts.rules import RulesError
from pipeline.api_tokens import TokenConfigError
from pipeline.config import Settings
from pipeline.db import SchemaMismatchError
from pipeline.ingest.sources.archive import ColumnMapError
from pipeline.ingest.sources_config import SourcesConfigError
from pipeline.kafka.broker import BrokerError
from pipeline.kafka.produce import ProduceError

USAGE = 2
"""Exit code of a configuration or input mistake (argparse uses it for bad arguments too)."""
UNAVAILABLE = 69
"""Exit code when a service (database, broker) cannot be reached (sysexits EX_UNAVAILABLE)."""

_CONFIG_ERRORS = (
    SchemaMismatchError,
    RulesError,
    ReceiversError,
    SourcesConfigError,
    ColumnMapError,
    BrokerError,
    TokenConfigError,
)
_MODEL_CONFIG_ERRORS = (("pipeline.model.checkpoint", "CheckpointError"), ("pipeline.model.backbone", "BackboneError"))
"""Configuration errors of the model code, matched only once their module is loaded: importing
`pipeline.model` imports torch (seconds), and an exception of a module nobody imported cannot occur,
so a command that never loads the model (`finsent db current`) explains its failure without it."""


@dataclass(frozen=True)
class Problem:
    message: str
    exit_code: int


def explain(exc: BaseException, settings: Settings) -> Problem | None:
    """The one-line explanation of a user-facing failure; None for anything else (a bug)."""
    if isinstance(exc, _CONFIG_ERRORS) or _is_model_config_error(exc):
        return Problem(_first_line(exc), USAGE)
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return Problem(f"FINSENT_DATABASE_URL is not a usable SQLAlchemy URL: {_first_line(exc)}", USAGE)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated or _is_connect_error(exc):
        return Problem(
            f"cannot reach the database {_database(settings)}: {_first_line(getattr(exc, 'orig', None) or exc)} "
            "(check FINSENT_DATABASE_URL and that the server is up)",
            UNAVAILABLE,
        )
    if isinstance(exc, (KafkaConnectionError, KafkaTimeoutError, ProduceError)):
        where = settings.kafka_bootstrap or "the embedded broker"
        return Problem(
            f"cannot reach the Kafka broker at {where}: {_first_line(exc)} "
            "(check FINSENT_KAFKA_BOOTSTRAP, or unset it to use the embedded broker)",
            UNAVAILABLE,
        )
    if isinstance(exc, FileNotFoundError):
        return Problem(f"no such file: {exc.filename or _first_line(exc)}", USAGE)
    if isinstance(exc, PermissionError):
        return Problem(f"permission denied: {exc.filename or _first_line(exc)}", USAGE)
    return None


def _is_model_config_error(exc: BaseException) -> bool:
    loaded = (getattr(sys.modules.get(module), name, None) for module, name in _MODEL_CONFIG_ERRORS)
    return any(isinstance(cls, type) and isinstance(exc, cls) for cls in loaded)


def _is_connect_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _database(settings: Settings) -> str:
    try:
        return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
