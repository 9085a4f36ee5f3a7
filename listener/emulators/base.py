"""Shared machinery of the API emulators: a threaded HTTP server on 127.0.0.1 with routing,
a record of every request received, and injectable faults (status codes, malformed bodies,
truncated real answers, delays, dropped connections)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """One request as the emulator received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query-string or form parameter (first value)."""
        values = self.query.get(name) or self.form().get(name)
        return values[0] if values else default

    def form(self) -> dict[str, list[str]]:
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass(kw_only=True, slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        merged = {"content-type": "application/json; charset=utf-8", **(headers or {})}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status=status, body=body, headers=merged)


@dataclass(kw_only=True, slots=True)
class Fault:
    """Replace the next ``times`` matching responses. ``path_prefix`` '' matches every path.

    ``status``/``body``/``headers`` give the response to send instead; ``delay`` sleeps first
    (with ``status`` None the real response follows the delay); ``drop`` closes the connection
    without answering; ``truncate`` sends the real answer (status, headers) with its body cut
    in half, a malformed page. ``after`` lets that many matching requests through first (a
    fault on page 2 of a pagination: ``after=1``).
    """

    path_prefix: str = ""
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    times: int = 1
    after: int = 0


Handler = Callable[[Request], Response]
AnswerHook = Callable[[Request, Response], None]


class Emulator:
    """A tiny HTTP server: register routes, start it, point a client at ``base_url``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: list[tuple[str, str, Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._answer_hooks: list[AnswerHook] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler``; ``path`` ending in '*' matches a prefix."""
        self._routes.append((method.upper(), path, handler))

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def on_answer(self, hook: AnswerHook) -> None:
        """Call ``hook(request, response)`` in the server thread right after each answer has
        been written (not for a dropped connection): a harness acting between the client's
        answer and its next step, e.g. a chaos run's SIGKILL after Slack accepted a post."""
        with self._lock:
            self._answer_hooks.append(hook)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def received(self, path_prefix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                return None
            if fault.status is not None:
                return Response(status=fault.status, body=fault.body, headers=dict(fault.headers))
        response = self._route(request)
        if fault is not None and fault.truncate:
            response.body = response.body[: len(response.body) // 2]
        return response

    def _route(self, request: Request) -> Response:
        for method, path, handler in self._routes:
            if method != request.method:
                continue
            if path == request.path or (path.endswith("*") and request.path.startswith(path[:-1])):
                return handler(request)
        return Response.json({"error": "not_found", "path": request.path}, status=404)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one write, without Nagle: written apart, the body of
            # every answer on a kept-alive connection waited for the client's delayed ACK
            # (about 40 ms), and benchmarks of collection measured mostly that stall.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                response = emulator._dispatch(request)
                if response is None:
                    self.close_connection = True
                    return
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(response.body)))
                    if self.close_connection:  # the client sent "Connection: close": say so,
                        self.send_header("connection", "close")  # or it may reuse the socket
                    self.end_headers()
                    self.wfile.write(response.body)
                    self.wfile.flush()  # answered before the hooks run
                except ConnectionError:  # the client gave up (a slow-response fault): fine
                    self.close_connection = True
                    return
                with emulator._lock:
                    hooks = list(emulator._answer_hooks)
                for hook in hooks:
                    hook(request, response)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionError:  # the client vanished mid-request (a SIGKILLed
                    self.close_connection = True  # daemon): nothing to answer, no traceback

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests and the demo read ``emulator.requests`` instead

        return _Handler
