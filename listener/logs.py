"""Logging set-up, done once by the CLI: text or JSON lines, with secrets redacted.

Every secret value from the config is registered with ``register_secrets``; the filter replaces
it in the final message of every record, so a token can never reach a log line, whoever logs it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_SECRETS: set[str] = set()
REDACTED = "***"


def register_secrets(*secrets: str) -> None:
    """Register secret values that must never be logged (short values are ignored)."""
    _SECRETS.update(s for s in secrets if len(s) >= 4)


def guard(*logger_names: str) -> None:
    """Redact registered secrets on these loggers too, whether or not ``configure`` ran
    (third-party clients log request headers at DEBUG)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = scrub(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (+ exc when any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once (stderr)."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "urllib3", "prawcore", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
