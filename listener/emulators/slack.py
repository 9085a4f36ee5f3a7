"""A local Slack emulator: ``chat.postMessage`` and ``auth.test`` of the Web API, and incoming
webhooks, answering like Slack does (HTTP 200 with ``{"ok": false, "error": ...}`` for API
refusals; plain-text ``ok`` / ``invalid_payload`` / ``no_service`` for webhooks).

Point slack-sdk at it with ``WebClient(base_url=emulator.api_url)`` or a webhook URL from
``emulator.webhook_url``. ``messages`` holds what was posted, parsed; 429s, 5xx and dropped
connections are injected with ``base.Fault``; ``stop()`` then ``restart()`` simulates an outage
(connection refused) and brings it back on the same port with its messages kept.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from listener.emulators.base import Emulator, Fault, Request, Response

WEBHOOK_PATH = "/services/T000EMUL/B000EMUL/emulatorsecret"


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
        self._seq = 0
        self._msg_lock = threading.Lock()
        self.route("POST", "/api/chat.postMessage", self._post_message)
        self.route("POST", "/api/auth.test", self._auth_test)
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

    def _record(self, channel: str, params: dict[str, Any], via: str) -> PostedMessage:
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
            )
            self.messages.append(message)
        return message

    def _post_message(self, request: Request) -> Response:
        params = self._params(request)
        error = self._auth_error(request, params)
        if error is not None:
            return Response.json({"ok": False, "error": error})
        channel = str(params.get("channel") or "")
        if not channel:
            return Response.json({"ok": False, "error": "channel_not_found"})
        if channel not in self.channels:
            return Response.json({"ok": False, "error": "channel_not_found"})
        if not params.get("text") and not params.get("blocks"):
            return Response.json({"ok": False, "error": "no_text"})
        if params.get("blocks") is None and "blocks" in params:
            return Response.json({"ok": False, "error": "invalid_blocks"})
        message = self._record(channel, params, "api")
        payload = {"type": "message", "text": message.text, "ts": message.ts}
        return Response.json({"ok": True, "channel": channel, "ts": message.ts, "message": payload})

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
