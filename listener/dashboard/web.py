"""The dashboard's HTTP app (Starlette): the main page, the override write and static assets.

Routes::

    GET  /                 the page for ?brand=&period=&bucket=&source=&lang=
    POST /override         form: mention_id, label, by, token, next -> 303 back to the page
    POST /api/override     JSON {mention_id, label, by} with Authorization: Bearer TOKEN
    GET  /healthz          200 "ok"
    GET  /static/...       the CSS and the small script, bundled in the package (no CDN)

Every error is one line on a page of its own (or JSON for the API), never a traceback or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from listener.dashboard import auth
from listener.dashboard.data import DashboardData
from listener.dashboard.format import register_filters
from listener.dashboard.page import build_page
from listener.dashboard.params import (
    PERIODS,
    BadParameter,
    buckets_allowed,
    parse_view,
    query_string,
)
from listener.domain import LABELS, Label, utcnow
from listener.errors import ListenerError

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
"""Host headers of a dashboard bound to loopback."""
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(
    data: DashboardData,
    *,
    token: str | None,
    clock: Callable[[], datetime] = utcnow,
    title: str = "listener",
    allowed_hosts: Sequence[str] = ("*",),
) -> Starlette:
    """The dashboard over ``data``; overrides need ``token`` (None: overrides are off).

    ``allowed_hosts``: the Host headers answered (a dashboard on loopback answers only
    ``localhost`` names, so a web page cannot read it through DNS rebinding)."""
    env = Environment(loader=PackageLoader("listener.dashboard"), autoescape=select_autoescape())
    register_filters(env)

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(title=title, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def problem(status: int, message: str) -> HTMLResponse:
        return render("error.html", status, status_code=status, message=message)

    def index(request: Request) -> HTMLResponse:
        brands = data.brands()
        now = clock()
        try:
            view, period = parse_view(request.query_params, brands, now=now)
        except BadParameter as exc:
            return problem(400, str(exc))
        competitors = next(b.competitors for b in brands if b.name == view.brand)
        try:
            page = build_page(data, view, competitors, now=now)
        except ListenerError as exc:
            log.warning("dashboard: %s", exc)
            return problem(503, f"cannot read the data: {exc}")
        return render(
            "index.html",
            page=page,
            brands=brands,
            period=period,
            periods=list(PERIODS),
            buckets=buckets_allowed(view.period),
            labels=LABELS,
            link=lambda **changes: "/?" + query_string(view, period, **changes),
            here="/?" + query_string(view, period),
            notice=_notice(request.query_params.get("overridden", "")),
            writable=token is not None,
        )

    async def override_form(request: Request) -> HTMLResponse | RedirectResponse:
        form = await request.form()
        given = str(form.get("token") or "") or auth.bearer(request.headers.get("authorization"))
        refused = auth.check(token, given)
        if refused is not None:
            log.warning("dashboard: override refused (%d): %s", refused.status, refused.reason)
            response = problem(refused.status, refused.reason)
            if refused.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="listener"'
            return response
        try:
            mention_id, label, by = _override_fields(dict(form))
            await run_in_threadpool(data.override, mention_id, label, by=by)  # a DB write
        except BadParameter as exc:
            return problem(400, str(exc))
        except ListenerError as exc:
            return problem(_status(exc), str(exc))
        log.info("dashboard: mention %d labelled %s by %s", mention_id, label, by)
        back = _safe_next(str(form.get("next") or "/"))
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}overridden={mention_id}:{label}", status_code=303)

    async def override_api(request: Request) -> JSONResponse:
        refused = auth.check(token, auth.bearer(request.headers.get("authorization")))
        if refused is not None:
            headers = {"WWW-Authenticate": 'Bearer realm="listener"'}
            return JSONResponse({"error": refused.reason}, refused.status, headers=headers)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise BadParameter("expected a JSON object with mention_id and label")
            mention_id, label, by = _override_fields(body)
            await run_in_threadpool(data.override, mention_id, label, by=by)  # a DB write
        except ValueError as exc:  # BadParameter, and JSONDecodeError for a body that is not JSON
            message = str(exc) if isinstance(exc, BadParameter) else "the body is not JSON"
            return JSONResponse({"error": message}, 400)
        except ListenerError as exc:
            return JSONResponse({"error": str(exc)}, _status(exc))
        log.info("dashboard: mention %d labelled %s by %s (API)", mention_id, label, by)
        return JSONResponse({"mention_id": mention_id, "label": label, "by": by})

    def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return Starlette(
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
            Middleware(GZipMiddleware, minimum_size=2048),
        ],
        routes=[
            Route("/", index),
            Route("/override", override_form, methods=["POST"]),
            Route("/api/override", override_api, methods=["POST"]),
            Route("/healthz", healthz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
    )


def _status(exc: ListenerError) -> int:
    """404 for the LabelWriter's 'no mention with id N', 400 for any other refusal."""
    return 404 if str(exc).lower().startswith("no mention") else 400


def _override_fields(fields: dict[str, Any]) -> tuple[int, Label, str]:
    raw_id = str(fields.get("mention_id", "")).strip()
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise BadParameter(f"mention_id: expected a mention number, got {raw_id[:30]!r}")
    label = str(fields.get("label", ""))
    if label not in LABELS:
        raise BadParameter(f"label: expected negative, neutral or positive, got {label[:30]!r}")
    by = " ".join(str(fields.get("by") or "").split())[:100] or "dashboard"
    return int(raw_id), label, by  # type: ignore[return-value]  # checked against LABELS


def _safe_next(value: str) -> str:
    """A path on this dashboard to go back to: never another site (no open redirect)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value.split("&overridden=", 1)[0].split("?overridden=", 1)[0]


def _notice(value: str) -> str | None:
    mention, _, label = value.partition(":")
    if mention.isdigit() and label in LABELS:
        return f"Mention #{mention} is now labelled {label}."
    return None
