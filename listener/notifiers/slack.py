"""Slack notifier on slack-sdk: a bot token with ``chat.postMessage`` (per-brand channel) or an
incoming webhook.

slack-sdk's own retry handlers are switched off: the outbox does the retrying, so a job never
sleeps inside the client. Failures are mapped at the boundary by ``_slack_errors`` (retryable,
uncertain: maybe posted, permanent); messages name the Slack error code only, never the token,
the webhook URL or the request.

With a bot token every message carries the alert's key in its metadata (``event_type``
``listener_alert``), so after an attempt whose outcome is unknown (a timeout, a crash)
``delivered`` finds it with ``conversations.history`` instead of posting it twice. That read
needs the ``channels:history`` scope (``groups:history`` for private channels) and, for a channel
configured by name rather than by ID, ``channels:read`` / ``groups:read`` to look its ID up once;
without them ``delivered`` answers None (cannot tell) and the alert is posted again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, model_validator

from listener.config import Duration, HttpUrl, Section, check_http_url
from listener.errors import NotifyPermanent, NotifyRetryable
from listener.logs import guard, register_secrets
from listener.notifiers._slack_errors import (
    METADATA_CODES,
    api_error,
    classify,
    for_reading,
    transport_error,
)
from listener.notifiers.blocks import render
from listener.plugins import NotifierPlugin, PluginContext
from listener.ports import AlertMessage, Notifier

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.web import SlackResponse
    from slack_sdk.webhook import WebhookClient


log = logging.getLogger(__name__)

EVENT_TYPE = "listener_alert"
CLOCK_SKEW = timedelta(minutes=10)
"""How much earlier than the alert's creation a message of it is looked for (clocks differ)."""
MAX_PAGES = 25
"""Pages of 200 read per lookup (conversations.history, conversations.list)."""
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def alert_key(message: AlertMessage) -> str:
    """The alert's identity in Slack: its id and a hash of its dedupe key (an id alone could
    match a message of another database posting to the same channel)."""
    alert = message.alert
    digest = hashlib.sha256(alert.dedupe_key.encode("utf-8")).hexdigest()[:12]
    return f"{alert.id}-{digest}"


class SlackBotNotifier:
    """Posts with a bot token to the alert's channel (the brand's) or ``default_channel``, and
    reads back whether an alert was already posted (``CheckingNotifier``)."""

    def __init__(self, *, client: WebClient, default_channel: str | None) -> None:
        self._client = client
        self._default_channel = default_channel
        self._channel_ids: dict[str, str] = {}
        self._metadata = True
        self._warned: set[str] = set()
        self.send_timeout = timedelta(seconds=10)
        """The client's timeout: the dispatch lease outlives a send (``Notifier``)."""

    def send(self, message: AlertMessage) -> None:
        """Post the alert; NotifyUncertain when the request went out and no answer came."""
        channel = self._channel(message)
        rendered = render(message)
        args: dict[str, Any] = {
            "channel": channel,
            "text": rendered.text,
            "blocks": rendered.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
            "link_names": False,
        }
        if self._metadata:
            args["metadata"] = {
                "event_type": EVENT_TYPE,
                "event_payload": {"alert_id": message.alert.id, "alert_key": alert_key(message)},
            }
        try:
            response = self._call("chat_postMessage", **args)
        except NotifyPermanent as exc:
            refused = str(exc).removeprefix("slack refused the message: ").split(" ", 1)[0]
            if not self._metadata or refused not in METADATA_CODES:
                raise
            self._metadata = False  # keep alerts flowing; only the read-back is lost
            self._warn("metadata", f"slack refused the alert key in message metadata ({exc})")
            self.send(message)
            return
        learned = response.get("channel")
        if isinstance(learned, str) and learned:
            self._channel_ids[channel.removeprefix("#")] = learned

    def delivered(self, message: AlertMessage) -> bool | None:
        """Whether Slack has a message carrying this alert's key, posted since the alert was
        created: True, False, or None when this bot cannot read the channel back."""
        if not self._metadata:
            return None
        channel_id = self._channel_id(self._channel(message))
        if channel_id is None:
            return None
        key = alert_key(message)
        oldest = f"{(message.alert.created_at - CLOCK_SKEW).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self._read(
                "conversations_history",
                channel=channel_id,
                oldest=oldest,
                limit=200,
                include_all_metadata=True,
                cursor=cursor,
            )
            if page is None:
                return None
            for item in page.get("messages") or []:
                metadata = (item.get("metadata") or {}) if isinstance(item, dict) else {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("alert_key") == key:
                    return True
            cursor = _next_cursor(page)
            if not page.get("has_more") or not cursor:
                return False
        self._warn("pages", f"more than {MAX_PAGES * 200} messages to look through")
        return None

    # -- helpers ------------------------------------------------------------------------------

    def _channel(self, message: AlertMessage) -> str:
        own = message.options.channel if isinstance(message.options, SlackBrandOptions) else None
        channel = own or message.channel or self._default_channel
        if not channel:
            raise NotifyPermanent(f"no Slack channel for brand {message.alert.brand!r}")
        return channel

    def _channel_id(self, channel: str) -> str | None:
        """The channel's ID: as configured, learned from a post, or looked up once by name."""
        if _CHANNEL_ID.fullmatch(channel):
            return channel
        name = channel.removeprefix("#")
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            if name in self._channel_ids:
                return self._channel_ids[name]
            page = self._read(
                "conversations_list",
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            if page is None:
                return None
            for item in page.get("channels") or []:
                if isinstance(item, dict) and item.get("name") and item.get("id"):
                    self._channel_ids[str(item["name"])] = str(item["id"])
            cursor = _next_cursor(page)
            if not cursor:
                break
        if name in self._channel_ids:
            return self._channel_ids[name]
        self._warn(f"find:{name}", f"the bot cannot see channel #{name} in conversations.list")
        return None

    def _read(self, method: str, **args: Any) -> SlackResponse | None:
        """A read-back call; None (and one warning) when Slack refuses it for good."""
        try:
            return self._call(method, **{k: v for k, v in args.items() if v is not None})
        except NotifyPermanent as exc:
            self._warn(method, str(exc))
            return None
        except NotifyRetryable as exc:
            raise for_reading(exc) from exc

    def _call(self, method: str, **args: Any) -> SlackResponse:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            response: SlackResponse = getattr(self._client, method)(**args)
            return response
        except SlackApiError as exc:
            raise api_error(exc) from exc
        except (OSError, HTTPException) as exc:  # URLError, refused, reset, timeout
            raise transport_error(exc) from exc
        except SlackClientError as exc:
            raise NotifyRetryable(f"slack client error: {type(exc).__name__}") from exc
        except ValueError as exc:  # a body slack-sdk could not parse
            raise NotifyRetryable("slack answered with a malformed body") from exc

    def _warn(self, topic: str, problem: str) -> None:
        if topic in self._warned:
            return
        self._warned.add(topic)
        log.warning(
            "cannot check whether an alert is already in Slack: %s; an alert whose delivery "
            "was interrupted (timeout, crash) is posted again and may show twice (grant the bot "
            "channels:history and channels:read, or groups:* for private channels)",
            problem,
        )


class SlackWebhookNotifier:
    """Posts to an incoming webhook (its channel is fixed by the webhook). A webhook cannot be
    read back: after an unknown outcome the alert is posted again (at least once)."""

    def __init__(self, *, client: WebhookClient) -> None:
        self._client = client
        self.send_timeout = timedelta(seconds=10)

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
            raise transport_error(exc) from exc
        body = (response.body or "").strip()
        if response.status_code == 200 and body == "ok":
            return
        code = body[:80] if response.status_code != 200 else ""  # a 200 that is not "ok"
        raise classify(response.status_code, code, response.headers)


def _next_cursor(page: SlackResponse) -> str | None:
    meta = page.get("response_metadata") or {}
    cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
    return str(cursor) if cursor else None


class SlackSettings(Section):
    """``[notifiers.NAME] kind = "slack"`` (or ``[slack]``): a bot token or a webhook."""

    token: SecretStr | None = None
    webhook_url: SecretStr | None = None
    channel: str | None = None
    api_base: HttpUrl = "https://slack.com/api"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackSettings:
        if (self.token is None) == (self.webhook_url is None):
            raise ValueError("set exactly one of slack.token or slack.webhook_url")
        if self.token is not None and not self.channel:
            raise ValueError("slack.channel is required with slack.token")
        if self.webhook_url is not None:
            check_http_url(self.webhook_url.get_secret_value())
        return self


class SlackBrandOptions(Section):
    """``[brands.slack]`` (old key: ``[[brands]] slack_channel``)."""

    channel: str | None = None
    """The brand's channel (bot token only); unset: the notifier's ``channel``."""


def build(settings: SlackSettings, context: PluginContext | None = None) -> Notifier:
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
        bot = SlackBotNotifier(client=client, default_channel=settings.channel)
        bot.send_timeout = settings.timeout
        return bot
    assert settings.webhook_url is not None  # the settings validator guarantees one of the two
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(
        settings.webhook_url.get_secret_value(), timeout=timeout, retry_handlers=[]
    )
    webhook = SlackWebhookNotifier(client=hook)
    webhook.send_timeout = settings.timeout
    return webhook


PLUGIN = NotifierPlugin(
    kind="slack",
    settings=SlackSettings,
    build=build,
    brand_options=SlackBrandOptions,
    brand_aliases={"slack_channel": "channel"},
    summary="Slack Block Kit messages (bot token with read-back, or an incoming webhook)",
)
