"""Serve a dashboard app from a thread and talk to it with urllib, for tests."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from listener.dashboard.serve import in_thread


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


running = in_thread
"""Serve an app on a free 127.0.0.1 port while the block runs; yields its base URL."""


def request(
    url: str,
    *,
    form: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """GET ``url``, or POST ``form`` (urlencoded) or ``body``; redirects are not followed."""
    data = urlencode(form).encode() if form is not None else body
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if form is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _opener.open(req, timeout=10) as resp:
            return Reply(resp.status, _lower(resp.headers), _text(resp.headers, resp.read()))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, _lower(exc.headers), _text(exc.headers, exc.read()))


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _text(headers: Any, body: bytes) -> str:
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body.decode("utf-8")
