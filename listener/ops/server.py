"""The ops HTTP endpoint, served from a daemon thread: ``/metrics`` (Prometheus text format from
the App's registry) and ``/healthz`` (200 or 503, JSON with the reasons)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from listener.errors import ConfigError
from listener.ops.health import Health

log = logging.getLogger(__name__)


class OpsServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (port 0: any free port, see ``port``)."""

    def __init__(
        self, *, registry: CollectorRegistry, health: Health, host: str, port: int
    ) -> None:
        handler = _handler(registry, health)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(
                f"ops.metrics_port: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> OpsServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="listener-ops",
            daemon=True,
        )
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _handler(registry: CollectorRegistry, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                ok, reasons = health.check()
                body = {"status": "ok" if ok else "unhealthy", "reasons": reasons}
                payload = json.dumps(body, ensure_ascii=False).encode("utf-8") + b"\n"
                self._send(200 if ok else 503, "application/json; charset=utf-8", payload)
            else:
                self._send(
                    404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n"
                )

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("ops %s " + format, self.client_address[0], *args)

    return Handler
