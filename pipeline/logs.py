"""Logging set-up: plain or JSON lines; `news_id` (and any `extra=`) is carried on each record.

The text format writes a record on one line (a traceback follows on lines of its own, each
indented): it escapes control characters (`\\n`, `\\r`, `\\x1b`, ...) in every field, so a value a
client sent (a path with `%0A`) cannot forge a line. JSON escapes them by itself.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTROL = [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _CONTROL} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}
TRACEBACK_INDENT = "  "


def escape_controls(text: str) -> str:
    """`text` with every control character (C0, DEL, C1, U+2028/9) written as an escape."""
    return text.translate(_ESCAPES)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with every `extra=` field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class KeyValueFormatter(logging.Formatter):
    """Human-readable line with `key=value` extras (such as news_id) appended, control characters
    escaped; a traceback follows on lines of its own, each indented."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = escape_controls(self.formatMessage(record))
        extras = " ".join(escape_controls(f"{k}={v}") for k, v in vars(record).items() if k not in _STANDARD)
        if extras:
            line = f"{line} {extras}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if block:
                line += "".join(f"\n{TRACEBACK_INDENT}{escape_controls(part)}" for part in block.splitlines())
        return line


def configure_logging(*, json_lines: bool = False, level: str = "INFO") -> None:
    """Send logs to stderr, so stdout stays for command results (summary JSON lines)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "aiokafka", "urllib3", "httpx", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if level.upper() != "DEBUG":
        # one line per reconnect attempt at ERROR: the failure that matters surfaces as an exception
        logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
