"""A malformed page of any source is quarantined the same way: the payload cut to PAYLOAD_KEPT
characters with NUL escaped for PostgreSQL, and the reason saying when it was cut."""

from __future__ import annotations

import pytest

from listener.collectors._quarantine import PAYLOAD_KEPT, MalformedPage, kept


@pytest.mark.parametrize("source", ["twitter", "reddit", "bluesky", "mastodon"])
def test_a_long_page_is_cut_and_the_reason_says_so(source: str) -> None:
    page = MalformedPage("a page that is not JSON", source=source, payload="x" * 70_000)

    row = page.quarantined("aurora", "page 2")

    assert (row.source, row.brand, row.location) == (source, "aurora", "page 2")
    assert row.reason == f"a page that is not JSON; first {PAYLOAD_KEPT} of 70000 characters kept"
    assert row.payload == "x" * PAYLOAD_KEPT


def test_a_short_page_is_kept_whole_with_nul_escaped() -> None:
    row = MalformedPage("bad", source="bluesky", payload="<html>\x00").quarantined("a", "p")

    assert (row.reason, row.payload) == ("bad", "<html>\\u0000")


def test_an_item_payload_is_cut_to_the_same_length() -> None:
    assert kept("y" * (PAYLOAD_KEPT + 1)) == "y" * PAYLOAD_KEPT
    assert kept("a\x00b") == "a\\u0000b"
