"""Which store failures are an outage (wait and retry the same batch) and which are bad data
(isolate the items that cause them and dead-letter those).

- outage: the database cannot be reached or dropped the connection, or asked to retry
  (`OperationalError`: connection refused/reset, admin shutdown, deadlock, serialization failure;
  `InterfaceError`; any error that invalidated the connection). Nothing about the items is wrong.
- bad data: the database refused these rows (`DataError`: e.g. NUL in text, out-of-range value;
  `IntegrityError`: a constraint), the driver could not send a value (`StatementError` around a
  `ValueError`, such as a string it cannot encode), or an enrichment has no article
  (`MissingArticleError`). Retrying the same rows gives the same answer.
- anything else (a bug, a schema mismatch such as `ProgrammingError`) is neither: it propagates,
  the process stops without committing, and a restart replays the batch.
"""

from __future__ import annotations

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from pipeline.db.writer import MissingArticleError


def is_outage(exc: BaseException) -> bool:
    """The database is unavailable for now; the same write will work later."""
    if isinstance(exc, DBAPIError):
        return isinstance(exc, OperationalError | InterfaceError) or bool(exc.connection_invalidated)
    return False


def is_bad_data(exc: BaseException) -> bool:
    """The rows themselves were refused; writing them again gives the same error."""
    if is_outage(exc):
        return False
    if isinstance(exc, DataError | IntegrityError | MissingArticleError):
        return True
    return (
        isinstance(exc, StatementError)
        and not isinstance(exc, DBAPIError)
        and isinstance(exc.orig, ValueError)  # e.g. UnicodeEncodeError of a value the driver cannot send
    )
