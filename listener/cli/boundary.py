"""How an error crosses the CLI boundary: one line on stderr, never a traceback.

Our own errors say what was wrong already; anything else is a bug, reported as its type and
first line (the traceback goes to the log at DEBUG: ``--log-level DEBUG``).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined with ' / ', runs of spaces kept as they are."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines)


def unexpected(exc: BaseException) -> str:
    """The message for an error that is not one of ours; logs its traceback at DEBUG."""
    log.debug("unexpected error", exc_info=exc)
    first = one_line(str(exc))[:300] or "(no message)"
    return (
        f"unexpected {type(exc).__name__}: {first} "
        "(a bug in listener: --log-level DEBUG shows where)"
    )
