"""The one error tree of listener.

Adapters translate third-party errors (tweepy, prawcore, slack_sdk, sqlalchemy, torch) into
these with ``raise ... from exc``, so orchestration code only ever catches our types::

    ListenerError
     ├── ConfigError            invalid configuration (names file, key path, what was expected)
     ├── SourceError            a collector could not read its source
     │    ├── RateLimited       429: skip this source until ``retry_at``
     │    ├── SourceUnavailable 5xx, timeouts, connection errors: retry later with backoff
     │    └── AuthError         401/403: credentials are wrong; logged once, job stays scheduled
     ├── PayloadError           one API item / input line that cannot be parsed (quarantined)
     ├── ModelError             the sentiment model is missing or cannot be loaded
     ├── NotifyError            an alert could not be delivered
     │    ├── NotifyRetryable   transient (429 with ``retry_after``, 5xx, connection): retry later
     │    │    └── NotifyUncertain  no answer after sending (timeout): it may have been posted
     │    └── NotifyPermanent   will never succeed as is (channel_not_found, invalid_auth)
     └── StoreError             the database refused or is unreachable

Messages never contain secrets: tokens, webhook URLs and passwords are redacted by the adapters.
"""

from __future__ import annotations

from datetime import datetime


class ListenerError(Exception):
    """Root of every error raised by listener on purpose."""


class ConfigError(ListenerError):
    """The configuration is invalid; ``str(exc)`` names the file, key path and expectation."""


class SourceError(ListenerError):
    """A collector could not read its source."""


class RateLimited(SourceError):
    """The source said 429: do not call it again before ``retry_at`` (UTC)."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SourceUnavailable(SourceError):
    """A transient failure (5xx, timeout, connection refused, malformed page)."""


class AuthError(SourceError):
    """Credentials were rejected (401/403)."""


class PayloadError(ListenerError):
    """One item of input could not be parsed; it is quarantined, the rest goes on."""


class ModelError(ListenerError):
    """The sentiment model is missing or could not be loaded."""


class NotifyError(ListenerError):
    """An alert could not be delivered."""


class NotifyRetryable(NotifyError):
    """A transient delivery failure; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotifyUncertain(NotifyRetryable):
    """The request went out but no answer came back (a timeout, a dropped connection, a gateway
    timeout): the message may have been posted. Check before posting it again."""


class NotifyPermanent(NotifyError):
    """A delivery failure that retrying cannot fix (channel_not_found, invalid_auth, ...)."""


class StoreError(ListenerError):
    """The database refused an operation or is unreachable."""
