"""What a failed Slack call means for the alert: the error model of the Slack notifier.

Three outcomes, decided here at the boundary from what slack-sdk (urllib) reports:

================================  ===========================================================
NotifyRetryable (not delivered)   HTTP 429 / ``ratelimited`` (with Retry-After), HTTP 500 and
                                  503, Slack's transient codes (``internal_error``,
                                  ``fatal_error``, ``service_unavailable``, ...), an answer that
                                  is not Slack's (an HTML or empty body: a proxy's error page,
                                  whatever its status), connection refused, DNS failure,
                                  a connect timeout
NotifyUncertain (maybe posted)    the request went out but no answer came: a read timeout, the
                                  connection closed or reset before the answer, HTTP 502 / 504
                                  (a gateway that gave up on Slack)
NotifyPermanent (never as is)     any other Slack error code: ``invalid_auth``,
                                  ``channel_not_found``, ``not_in_channel``, ``is_archived``,
                                  ``missing_scope``, ``msg_too_long``, ``invalid_blocks``, ...
================================  ===========================================================

An outage therefore delays alerts and never fails them: only an answer in Slack's own words (a
JSON ``{"ok": false, "error": code}``, or a webhook's plain-text code) can be permanent. Messages
name the Slack error code and the HTTP status only: never the token, the webhook URL, the body.
"""

from __future__ import annotations

import re
import socket
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from listener.errors import NotifyError, NotifyPermanent, NotifyRetryable, NotifyUncertain

TRANSIENT_CODES = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "message_limit_exceeded",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
"""Slack's error codes that mean "not now" (chat.postMessage and conversations.* docs)."""

METADATA_CODES = frozenset(
    {
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
    }
)
"""Slack refused the message metadata (the alert's key), not the message."""

GATEWAY_GAVE_UP = frozenset({502, 504})
_CODE = re.compile(r"[a-z][a-z0-9_]{1,80}")
"""What a Slack error code looks like; anything else came from something else."""


def header(headers: Any, name: str) -> str | None:
    """A response header, case-insensitively (slack-sdk gives dicts of str or of lists)."""
    if not headers:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    for key, value in items:
        if str(key).lower() == name.lower():
            if isinstance(value, list):
                value = value[0] if value else None
            return None if value is None else str(value)
    return None


def retry_after(headers: Any) -> float | None:
    """Retry-After in seconds (only the delta-seconds form Slack sends)."""
    value = header(headers, "retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def classify(status: int, code: str, headers: Any = None) -> NotifyError:
    """Our error for a Slack answer: HTTP ``status`` and Slack error ``code`` ('' when the body
    was not Slack's JSON or plain-text code)."""
    said = code if _CODE.fullmatch(code) else ""
    kind = header(headers, "content-type") or "no content-type"
    if said:
        message = f"slack refused the message: {said} (HTTP {status})"
    else:
        message = (
            f"slack answered HTTP {status} with a body that is not Slack's ({kind.split(';')[0]}):"
            " a proxy or outage page"
        )
    if status == 429 or said in ("ratelimited", "rate_limited"):
        return NotifyRetryable(message, retry_after=retry_after(headers))
    if status in GATEWAY_GAVE_UP:
        return NotifyUncertain(message + "; it may have been posted")
    if status >= 500 or not said or said in TRANSIENT_CODES:
        return NotifyRetryable(message)
    return NotifyPermanent(message)


def api_error(exc: Any) -> NotifyError:
    """Our error for a ``slack_sdk.errors.SlackApiError``."""
    response = exc.response
    data = getattr(response, "data", None)
    code = ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        code = data["error"]  # slack-sdk puts "Received a response in a non-JSON format..." here
    return classify(int(getattr(response, "status_code", 0) or 0), code, response.headers)


def transport_error(exc: BaseException) -> NotifyError:
    """Our error for a failed HTTP exchange. urllib wraps failures before the request was sent
    (connect, DNS, refused) in URLError; a failure while waiting for the answer (read timeout,
    connection closed or reset) comes raw: the request went out, so the outcome is unknown."""
    if isinstance(exc, URLError):
        reason = exc.reason
        name = type(reason).__name__ if isinstance(reason, BaseException) else "error"
        return NotifyRetryable(f"slack unreachable: {name}")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return NotifyUncertain("slack did not answer in time; the message may have been posted")
    if isinstance(exc, (HTTPException, ConnectionError)):
        return NotifyUncertain(
            f"slack closed the connection before answering ({type(exc).__name__});"
            " the message may have been posted"
        )
    return NotifyRetryable(f"slack unreachable: {type(exc).__name__}")


def for_reading(error: NotifyError) -> NotifyError:
    """A read (conversations.history) has no unknown outcome: retry it like any transient."""
    if isinstance(error, NotifyUncertain):
        return NotifyRetryable(str(error).replace("; the message may have been posted", ""))
    return error
