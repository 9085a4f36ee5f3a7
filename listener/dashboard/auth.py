"""The dashboard's one write (a label override) needs the token from ``[dashboard] token``.

The token is accepted as a form field ``token`` or an ``Authorization: Bearer`` header, never in
the URL (URLs end up in access logs and browser history), and compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Refusal:
    """Why a write was refused: the HTTP status and a one-line reason (never the token)."""

    status: int
    reason: str


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, if that is what it is."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def check(expected: str | None, given: str | None) -> Refusal | None:
    """None when ``given`` is the configured token; else the refusal to answer with."""
    if expected is None:
        return Refusal(
            status=403,
            reason="label overrides are off: this dashboard has no [dashboard] token configured",
        )
    if not given:
        return Refusal(status=401, reason="a token is required to override a label")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return Refusal(status=403, reason="wrong token: it is not the one set in [dashboard] token")
    return None
