"""Slack notifier on slack-sdk: a bot token with ``chat.postMessage`` (per-brand channel) or an
incoming webhook.

slack-sdk's own retry handlers are switched off: the outbox does the retrying, so a job never
sleeps inside the client. Errors are mapped here, at the boundary:

* HTTP 429 -> NotifyRetryable(retry_after=Retry-After seconds)
* HTTP 5xx, connection refused/reset, timeouts, Slack's transient error codes -> NotifyRetryable
* anything else Slack refuses (channel_not_found, invalid_auth, not_in_channel, ...)
  -> NotifyPermanent

Messages name the Slack error code only: never the token, the webhook URL or the request.
"""

from __future__ import annotations

import logging
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from listener.errors import NotifyError, NotifyPermanent, NotifyRetryable
from listener.logs import guard, register_secrets
from listener.notifiers.blocks import render
from listener.ports import AlertMessage, Notifier

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.webhook import WebhookClient

    from listener.config import SlackSettings

log = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    value = None
    for key in ("Retry-After", "retry-after"):
        try:
            value = headers.get(key)
        except AttributeError:
            return None
        if value is not None:
            break
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def classify(status: int, code: str, headers: Any = None) -> NotifyError:
    """Our error for a Slack refusal (HTTP ``status``, Slack error ``code``)."""
    message = f"slack refused the message: {code or 'no error code'} (HTTP {status})"
    if status == 429 or code == "ratelimited":
        return NotifyRetryable(message, retry_after=_retry_after(headers))
    if status >= 500 or code in TRANSIENT_CODES:
        return NotifyRetryable(message)
    return NotifyPermanent(message)


def _transport_error(exc: BaseException) -> NotifyRetryable:
    reason = getattr(exc, "reason", exc)
    return NotifyRetryable(f"slack unreachable: {type(reason).__name__}")


class SlackBotNotifier:
    """Posts with a bot token to the alert's channel (the brand's) or ``default_channel``."""

    def __init__(self, *, client: WebClient, default_channel: str | None) -> None:
        self._client = client
        self._default_channel = default_channel

    def send(self, message: AlertMessage) -> None:
        from slack_sdk.errors import SlackApiError, SlackClientError

        channel = message.channel or self._default_channel
        if not channel:
            raise NotifyPermanent(f"no Slack channel for brand {message.alert.brand!r}")
        rendered = render(message)
        try:
            self._client.chat_postMessage(
                channel=channel,
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            )
        except SlackApiError as exc:
            response = exc.response
            code = str(response.get("error", "")) if isinstance(response.data, dict) else ""
            raise classify(response.status_code, code, response.headers) from exc
        except (OSError, HTTPException) as exc:  # URLError, refused, reset, timeout
            raise _transport_error(exc) from exc
        except SlackClientError as exc:
            raise NotifyRetryable(f"slack client error: {type(exc).__name__}") from exc
        except ValueError as exc:  # a non-JSON body (a proxy's error page)
            raise NotifyRetryable("slack answered with a malformed body") from exc


class SlackWebhookNotifier:
    """Posts to an incoming webhook (its channel is fixed by the webhook)."""

    def __init__(self, *, client: WebhookClient) -> None:
        self._client = client

    def send(self, message: AlertMessage) -> None:
        rendered = render(message)
        try:
            response = self._client.send(
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (OSError, HTTPException) as exc:  # URLError, refused, reset, timeout
            raise _transport_error(exc) from exc
        if response.status_code != 200:
            raise classify(
                response.status_code, (response.body or "").strip()[:80], response.headers
            )


def build(settings: SlackSettings) -> Notifier:
    """The Slack notifier for ``settings`` (bot token or webhook)."""
    timeout = max(1, round(settings.timeout.total_seconds()))
    secret = settings.token or settings.webhook_url
    if secret is not None:  # slack_sdk logs request URLs at DEBUG: the webhook URL is a secret
        register_secrets(secret.get_secret_value())
        guard("slack_sdk")
    if settings.token is not None:
        from slack_sdk import WebClient

        client = WebClient(
            token=settings.token.get_secret_value(),
            base_url=settings.api_base.rstrip("/") + "/",
            timeout=timeout,
            retry_handlers=[],
        )
        return SlackBotNotifier(client=client, default_channel=settings.channel)
    assert settings.webhook_url is not None  # the settings validator guarantees one of the two
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(
        settings.webhook_url.get_secret_value(), timeout=timeout, retry_handlers=[]
    )
    return SlackWebhookNotifier(client=hook)
