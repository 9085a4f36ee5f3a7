"""A signed JSON webhook: each alert POSTed once to a URL (Zapier-style automation).

Every request carries

- ``X-Listener-Timestamp``: Unix seconds when it was signed;
- ``X-Listener-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"`` with the
  shared secret (from the environment: ``secret = "${WEBHOOK_SECRET}"``); the receiver
  recomputes it over the raw body and rejects a stale timestamp;
- ``Idempotency-Key``: the alert's identity (its id and a hash of its dedupe key), the same on
  every retry, so a receiver that saw it already can drop the copy.

Retries are the outbox's: 2xx is delivered; 408, 425, 429 and 5xx are retried (``Retry-After``
honoured); a refused connection is retried; other 4xx fail for good; a timeout or a dropped
connection after the request went out is "maybe delivered" (retried later with the same key).
The URL and the secret never appear in a message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http.client import HTTPException
from typing import Any

from pydantic import Field, SecretStr, field_validator

from listener.config import Duration, Section, check_http_url
from listener.errors import NotifyPermanent, NotifyRetryable, NotifyUncertain
from listener.logs import register_secrets
from listener.plugins import NotifierPlugin, PluginContext
from listener.ports import AlertMessage, Notifier

SIGNATURE_HEADER = "X-Listener-Signature"
TIMESTAMP_HEADER = "X-Listener-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE = frozenset({408, 425, 429})
USER_AGENT = "listener-webhook/1"
DELIVERY_STATE = frozenset({"delivered_to", "not_delivered"})
"""The outbox's own notes in an alert's details, not part of what the alert says."""


class WebhookSettings(Section):
    """``[notifiers.NAME] kind = "webhook"``."""

    url: SecretStr
    """Where alerts are POSTed (http or https); treated as a secret (it often holds a token)."""
    secret: SecretStr = Field(min_length=16)
    """The HMAC key, at least 16 characters; write it as ``${ENV_VAR}``."""
    timeout: Duration = timedelta(seconds=10)

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        check_http_url(value.get_secret_value())
        return value


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def idempotency_key(message: AlertMessage) -> str:
    """The alert's identity: its id and a hash of its dedupe key."""
    alert = message.alert
    return f"{alert.id}-{hashlib.sha256(alert.dedupe_key.encode('utf-8')).hexdigest()[:16]}"


def payload(message: AlertMessage) -> dict[str, Any]:
    """The JSON document of one alert: what the message shows, nothing read again later."""
    alert = message.alert
    doc: dict[str, Any] = {
        "id": alert.id,
        "key": idempotency_key(message),
        "kind": alert.kind,
        "brand": alert.brand,
        "reason": alert.reason,
        "created_at": alert.created_at.isoformat(),
        "details": {k: v for k, v in alert.details.items() if k not in DELIVERY_STATE},
        "mention": _mention(message.mention) if message.mention else None,
        "sentiment": None,
        "examples": [_mention(m) for m in message.examples],
        "ack_command": f"{message.command_prefix} alerts ack {alert.id}",
    }
    if message.sentiment is not None:
        s = message.sentiment
        doc["sentiment"] = {
            "label": s.label,
            "probabilities": dict(s.probabilities),
            "anger": s.anger,
            "lang": s.lang,
        }
    return doc


def _mention(stored: Any) -> dict[str, Any]:
    m = stored.mention
    return {
        "id": stored.id,
        "source": m.source,
        "external_id": m.external_id,
        "text": m.text,
        "author": m.author,
        "author_reach": m.author_reach,
        "url": m.url,
        "lang": m.lang,
        "created_at": m.created_at.isoformat(),
    }


class WebhookNotifier:
    """POSTs each alert as signed JSON (see the module docstring for the headers)."""

    def __init__(self, *, url: str, secret: str, timeout: timedelta, name: str = "webhook") -> None:
        self._url = url
        self._secret = secret.encode("utf-8")
        self._name = name
        self.send_timeout = timeout

    def send(self, message: AlertMessage) -> None:
        body = json.dumps(payload(message), ensure_ascii=False, sort_keys=True).encode("utf-8")
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
                IDEMPOTENCY_HEADER: idempotency_key(message),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.send_timeout.total_seconds()) as r:
                r.read(65536)
        except urllib.error.HTTPError as exc:
            raise self._refused(exc.code, exc.headers.get("Retry-After")) from None
        except urllib.error.URLError as exc:
            raise self._unreached(exc.reason) from None
        except (TimeoutError, ConnectionError, HTTPException, OSError) as exc:
            raise self._unreached(exc) from None

    def _refused(self, status: int, retry_after: str | None) -> Exception:
        if status in RETRYABLE or status >= 500:
            seconds = _seconds(retry_after)
            return NotifyRetryable(
                f"webhook {self._name} answered HTTP {status}", retry_after=seconds
            )
        return NotifyPermanent(f"webhook {self._name} refused the alert: HTTP {status}")

    def _unreached(self, reason: object) -> Exception:
        kind = type(reason).__name__ if isinstance(reason, BaseException) else "error"
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            return NotifyRetryable(f"webhook {self._name} unreachable ({kind})")
        if isinstance(reason, TimeoutError | ConnectionResetError | HTTPException):
            return NotifyUncertain(f"webhook {self._name} did not answer ({kind})")
        return NotifyRetryable(f"webhook {self._name} unreachable ({kind})")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def build(settings: WebhookSettings, context: PluginContext | None = None) -> Notifier:
    """The webhook notifier for a ``[notifiers.NAME] kind = "webhook"`` section."""
    url, secret = settings.url.get_secret_value(), settings.secret.get_secret_value()
    register_secrets(url, secret)
    name = context.name if context is not None else "webhook"
    return WebhookNotifier(url=url, secret=secret, timeout=settings.timeout, name=name)


PLUGIN = NotifierPlugin(
    kind="webhook",
    settings=WebhookSettings,
    build=build,
    summary="signed JSON POST (HMAC-SHA256) with an idempotency key",
)
