"""A malformed page, kept aside (quarantined) rather than treated as an outage, and the cut of
a payload kept in the quarantine; shared by every collector."""

from __future__ import annotations

from listener.domain import Quarantined
from listener.errors import SourceUnavailable

PAYLOAD_KEPT = 65_536
"""Characters of a malformed page or item kept in the quarantine (64 KiB of text at most per
row); a longer payload is cut, and a page's reason says so."""


def kept(payload: str) -> str:
    """The first PAYLOAD_KEPT characters of ``payload``, NUL written as ``\\u0000`` (PostgreSQL
    text cannot hold NUL)."""
    return payload[:PAYLOAD_KEPT].replace("\x00", "\\u0000")


class MalformedPage(SourceUnavailable):
    """A 200 page that is not the source's shape (not JSON, not an object, a bad envelope): the
    collector quarantines it, never raises it. ``source`` is the collector's kind."""

    def __init__(self, message: str, *, source: str, payload: str) -> None:
        super().__init__(message)
        self.source = source
        self.payload = payload

    def quarantined(self, brand: str, location: str) -> Quarantined:
        """The page as a Quarantined row; the reason says when the payload was cut."""
        reason = str(self)
        if len(self.payload) > PAYLOAD_KEPT:
            reason += f"; first {PAYLOAD_KEPT} of {len(self.payload)} characters kept"
        return Quarantined(
            source=self.source,
            brand=brand,
            reason=reason,
            payload=kept(self.payload),
            location=location,
        )
