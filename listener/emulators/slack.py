"""A local Slack emulator: ``chat.postMessage`` (with message ``metadata``),
``conversations.history`` (``include_all_metadata``, ``oldest``/``latest``, cursor pages),
``conversations.list`` and ``auth.test`` of the Web API, and incoming webhooks, answering like
Slack does (HTTP 200 with ``{"ok": false, "error": ...}`` for API refusals; plain-text ``ok`` /
``invalid_payload`` / ``no_service`` for webhooks).

Channels are given by name (``#alerts``) or ID (``C0ALERTS``); a name gets a stable ID, and, as in
Slack, ``chat.postMessage`` takes either while ``conversations.history`` wants the ID.

Point slack-sdk at it with ``WebClient(base_url=emulator.api_url)`` or a webhook URL from
``emulator.webhook_url``. ``messages`` holds what was posted, parsed. Trouble on demand:
``rate_limit`` (429 + Retry-After), ``server_error`` (5xx), ``proxy_page`` (an HTML error page,
HTTP 200 by default), ``slow`` (records the message, then answers late: the client times out
although Slack has it), ``read_scopes = False`` (``missing_scope`` on reads), any ``base.Fault``;
``stop()`` then ``restart()`` simulates an outage (connection refused) and brings it back on the
same port with its messages kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from listener.emulators.base import Emulator, Fault, Request, Response

WEBHOOK_PATH = "/services/T000EMUL/B000EMUL/emulatorsecret"
PROXY_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    b"<h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>"
)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def channel_id(ref: str) -> str:
    """The emulator's ID of a channel given by name ('#alerts') or ID ('C0ALERTS')."""
    if _CHANNEL_ID.fullmatch(ref):
        return ref
    name = ref.removeprefix("#")
    return "C" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:9].upper()


def channel_name(ref: str) -> str:
    return ref.lower() if _CHANNEL_ID.fullmatch(ref) else ref.removeprefix("#")


@dataclass(frozen=True, kw_only=True, slots=True)
class PostedMessage:
    """One message Slack accepted."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    via: str
    """'api' (chat.postMessage) or 'webhook'."""
    received_at: float
    """time.monotonic() when it arrived (for latency benchmarks)."""
    params: dict[str, Any] = field(default_factory=dict)
    channel_id: str = ""
    metadata: dict[str, Any] | None = None
    """The message metadata (``event_type``, ``event_payload``) it was posted with."""


class SlackEmulator(Emulator):
    """Slack Web API and webhook emulator on 127.0.0.1."""

    def __init__(
        self,
        *,
        token: str = "xoxb-emulator-token",
        channels: Iterable[str] = ("#alerts", "C0ALERTS"),
        webhook_channel: str = "#alerts",
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.token = token
        self.channels = set(channels)
        self.webhook_channel = webhook_channel
        self.messages: list[PostedMessage] = []
        self.read_scopes = True
        """False: reads answer ``missing_scope`` (a bot with chat:write only)."""
        self._seq = 0
        self._msg_lock = threading.Lock()
        self._slow: list[float] = []
        self.route("POST", "/api/chat.postMessage", self._post_message)
        self.route("POST", "/api/auth.test", self._auth_test)
        for verb in ("GET", "POST"):
            self.route(verb, "/api/conversations.history", self._history)
            self.route(verb, "/api/conversations.list", self._list)
        self.route("POST", "/services/*", self._webhook)

    @property
    def api_url(self) -> str:
        """``slack.api_base`` for the config (slack-sdk needs a trailing '/', added by build)."""
        return f"{self.base_url}/api"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{WEBHOOK_PATH}"

    def rate_limit(self, retry_after: int, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with 429 and ``Retry-After``, as Slack does."""
        body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
        self.inject(
            Fault(
                status=429,
                body=body,
                headers={"Retry-After": str(retry_after), "content-type": "application/json"},
                times=times,
            )
        )

    def server_error(self, status: int = 503, *, times: int = 1, path_prefix: str = "") -> None:
        """Answer the next ``times`` requests with HTTP ``status`` and an HTML error page."""
        self.proxy_page(times=times, status=status, path_prefix=path_prefix)

    def proxy_page(self, *, times: int = 1, status: int = 200, path_prefix: str = "") -> None:
        """Answer the next ``times`` requests with an HTML page instead of Slack's JSON, as a
        proxy or load balancer in the way does (HTTP 200 unless ``status`` says otherwise)."""
        headers = {"content-type": "text/html; charset=utf-8"}
        fault = Fault(
            path_prefix=path_prefix, status=status, body=PROXY_PAGE, headers=headers, times=times
        )
        self.inject(fault)

    def slow(self, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` chat.postMessage calls record the message, then answer only after
        ``seconds``: a client with a shorter timeout gives up although Slack has the message."""
        with self._msg_lock:
            self._slow.extend([seconds] * times)

    def clear_slow(self) -> None:
        """Drop the ``slow`` answers not used yet (``clear_faults`` leaves them)."""
        with self._msg_lock:
            self._slow.clear()

    def history(self, channel: str) -> list[PostedMessage]:
        """The messages of one channel (name or ID), oldest first."""
        wanted = channel_id(channel)
        with self._msg_lock:
            return [m for m in self.messages if m.channel_id == wanted]

    def start(self) -> SlackEmulator:
        super().start()
        return self

    def restart(self) -> SlackEmulator:
        """Serve again on the same port after ``stop()`` (the end of a simulated outage)."""
        port = self.port  # the closed server still knows the address it was bound to
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self.start()
        return self

    # -- handlers -----------------------------------------------------------------------------

    def _params(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = request.json()
            return data if isinstance(data, dict) else {}
        params: dict[str, Any] = {k: v[0] for k, v in request.form().items()}
        if isinstance(params.get("blocks"), str):
            try:
                params["blocks"] = json.loads(params["blocks"])
            except ValueError:
                params["blocks"] = None
        return params

    def _auth_error(self, request: Request, params: dict[str, Any]) -> str | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth else str(params.get("token", ""))
        if not token:
            return "not_authed"
        if token != self.token:
            return "invalid_auth"
        return None

    def _find_channel(self, given: str) -> str | None:
        """The configured channel ``given`` names (as '#name', 'name' or its ID)."""
        for ref in self.channels:
            if given in (ref, channel_name(ref), channel_id(ref)):
                return ref
        return None

    def _record(self, channel: str, params: dict[str, Any], via: str) -> PostedMessage:
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = None
        with self._msg_lock:
            self._seq += 1
            ts = f"{int(time.time())}.{self._seq:06d}"
            blocks = params.get("blocks") or []
            message = PostedMessage(
                channel=channel,
                text=str(params.get("text") or ""),
                blocks=blocks if isinstance(blocks, list) else [],
                ts=ts,
                via=via,
                received_at=time.monotonic(),
                params=params,
                channel_id=channel_id(channel),
                metadata=metadata if isinstance(metadata, dict) else None,
            )
            self.messages.append(message)
        return message

    def _post_message(self, request: Request) -> Response:
        params = self._params(request)
        error = self._auth_error(request, params)
        if error is not None:
            return Response.json({"ok": False, "error": error})
        channel = self._find_channel(str(params.get("channel") or ""))
        if channel is None:
            return Response.json({"ok": False, "error": "channel_not_found"})
        if not params.get("text") and not params.get("blocks"):
            return Response.json({"ok": False, "error": "no_text"})
        if params.get("blocks") is None and "blocks" in params:
            return Response.json({"ok": False, "error": "invalid_blocks"})
        metadata = params.get("metadata")
        if metadata is not None and not _valid_metadata(metadata):
            return Response.json({"ok": False, "error": "invalid_metadata_format"})
        message = self._record(channel, params, "api")
        with self._msg_lock:
            delay = self._slow.pop(0) if self._slow else 0.0
        if delay:
            time.sleep(delay)  # Slack has the message; the answer comes late
        payload = self._as_item(message, with_metadata=False)
        return Response.json(
            {"ok": True, "channel": message.channel_id, "ts": message.ts, "message": payload}
        )

    def _as_item(self, message: PostedMessage, *, with_metadata: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "message", "text": message.text, "ts": message.ts}
        if message.via == "api":
            item.update(bot_id="B0", app_id="A0EMULATOR", user="U0LISTENER")
        else:
            item.update(subtype="bot_message", bot_id="B0")
        if message.blocks:
            item["blocks"] = message.blocks
        if with_metadata and message.metadata is not None:
            item["metadata"] = message.metadata
        return item

    def _read_error(self, request: Request, params: dict[str, Any]) -> Response | None:
        error = self._auth_error(request, params)
        if error is not None:
            return Response.json({"ok": False, "error": error})
        if not self.read_scopes:
            needed = "channels:history,groups:history,channels:read,groups:read"
            return Response.json(
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": "chat:write"}
            )
        return None

    def _history(self, request: Request) -> Response:
        params = {**self._params(request), **{k: v[0] for k, v in request.query.items()}}
        refused = self._read_error(request, params)
        if refused is not None:
            return refused
        wanted = str(params.get("channel") or "")
        channel = self._find_channel(wanted)
        if channel is None or channel_id(channel) != wanted:  # IDs only, as in Slack
            return Response.json({"ok": False, "error": "channel_not_found"})
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or time.time() + 1e6)
        found = [m for m in reversed(self.history(channel)) if oldest < float(m.ts) < latest]
        limit = min(max(int(params.get("limit") or 100), 1), 999)
        start = _decode_cursor(params.get("cursor"))
        page = found[start : start + limit]
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        more = start + limit < len(found)
        return Response.json(
            {
                "ok": True,
                "messages": [self._as_item(m, with_metadata=with_metadata) for m in page],
                "has_more": more,
                "pin_count": 0,
                "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
            }
        )

    def _list(self, request: Request) -> Response:
        params = {**self._params(request), **{k: v[0] for k, v in request.query.items()}}
        refused = self._read_error(request, params)
        if refused is not None:
            return refused
        channels = sorted(self.channels)
        limit = min(max(int(params.get("limit") or 100), 1), 1000)
        start = _decode_cursor(params.get("cursor"))
        more = start + limit < len(channels)
        items = [
            {
                "id": channel_id(ref),
                "name": channel_name(ref),
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
            }
            for ref in channels[start : start + limit]
        ]
        return Response.json(
            {
                "ok": True,
                "channels": items,
                "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
            }
        )

    def _auth_test(self, request: Request) -> Response:
        error = self._auth_error(request, self._params(request))
        if error is not None:
            return Response.json({"ok": False, "error": error})
        return Response.json({"ok": True, "team": "Emulator", "user": "listener", "bot_id": "B0"})

    def _webhook(self, request: Request) -> Response:
        if request.path != WEBHOOK_PATH:
            return Response(status=404, body=b"no_service", headers={"content-type": "text/html"})
        try:
            params = request.json()
        except ValueError:
            params = None
        if not isinstance(params, dict) or not (params.get("text") or params.get("blocks")):
            return Response(
                status=400, body=b"invalid_payload", headers={"content-type": "text/html"}
            )
        self._record(self.webhook_channel, params, "webhook")
        return Response(status=200, body=b"ok", headers={"content-type": "text/html"})


def _valid_metadata(metadata: Any) -> bool:
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return False
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    )


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"next:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return max(int(base64.b64decode(str(cursor)).decode().removeprefix("next:")), 0)
    except ValueError:
        return 0
