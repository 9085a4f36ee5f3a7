"""The dashboard's HTTP app over an in-memory DashboardData, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from listener.dashboard.data import AlertRow, BrandInfo
from listener.dashboard.web import LOOPBACK_NAMES, create_app
from listener.errors import StoreError
from tests.dashboard_fake import FakeMention, MemoryData
from tests.dashboard_server import request, running

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
TOKEN = "test-dashboard-token-0123456789"


def _data() -> MemoryData:
    mentions = [
        FakeMention(
            id=1,
            brand="Aurora Air",
            source="twitter",
            lang="en",
            text="Lost my luggage AGAIN, never flying Aurora Air",
            created_at=NOW - timedelta(hours=2),
            label="negative",
            anger=0.9,
            author="furious_flyer",
            url="https://x.example/furious_flyer/status/1",
            reach=12000,
        ),
        FakeMention(
            id=2,
            brand="Aurora Air",
            source="reddit",
            lang="pl",
            text="Zgubili mój bagaż, obsługa klienta milczy <script>alert(1)</script>",
            created_at=NOW - timedelta(hours=5),
            label="negative",
            anger=0.3,
            author="kasia",
            url="javascript:alert(1)",
        ),
        FakeMention(
            id=3,
            brand="Aurora Air",
            source="twitter",
            lang="en",
            text="Smooth flight, friendly crew",
            created_at=NOW - timedelta(days=1),
            label="positive",
        ),
        FakeMention(
            id=4,
            brand="Nordlys",
            source="twitter",
            lang="en",
            text="Nordlys signal is fine",
            created_at=NOW - timedelta(days=2),
            label="neutral",
        ),
    ]
    alerts = [
        AlertRow(
            id=7,
            kind="mention",
            brand="Aurora Air",
            status="sent",
            reason="anger 0.90 >= 0.60",
            created_at=NOW - timedelta(hours=2),
            mention_id=1,
            acked_at=NOW - timedelta(hours=1, minutes=48),
            acked_by="ana",
            response_seconds=720.0,
        )
    ]
    brands = [BrandInfo(name="Aurora Air", competitors=["Nordlys"]), BrandInfo(name="Nordlys")]
    return MemoryData(brands, mentions, alerts)


@pytest.fixture
def data() -> MemoryData:
    return _data()


@pytest.fixture
def base(data: MemoryData) -> Iterator[str]:
    with running(create_app(data, token=TOKEN, clock=lambda: NOW)) as url:
        yield url


def _mention_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="mention" data-id="(\d+)"', html)]


def _kpi(html: str, name: str) -> str:
    block = html.split(f'id="kpi-{name}"', 1)[1]
    return re.search(r'class="kpi-value[^"]*">([^<]*)<', block).group(1)  # type: ignore[union-attr]


def test_page_shows_the_brand_its_competitor_and_its_negative_mentions(base: str) -> None:
    reply = request(f"{base}/")
    assert reply.status == 200
    html = reply.body
    assert _kpi(html, "volume") == "3"
    assert _kpi(html, "negative") == "67%"
    assert 'data-total="3"' in html  # the volume chart
    assert 'data-brand="Nordlys"' in html  # the comparison has the competitor's line
    assert _mention_ids(html) == [1, 2]  # negative ones only, newest first
    assert "12m 00s" in html  # the alert's response time
    assert "luggage" in html  # a complaint driver
    assert "furious_flyer" in html


def test_filters_change_what_is_shown(base: str) -> None:
    assert _mention_ids(request(f"{base}/?source=reddit").body) == [2]
    assert _mention_ids(request(f"{base}/?lang=en").body) == [1]
    assert _kpi(request(f"{base}/?lang=pl").body, "volume") == "1"
    assert _mention_ids(request(f"{base}/?period=24h&brand=nordlys").body) == []
    assert _kpi(request(f"{base}/?period=7d&brand=Nordlys").body, "volume") == "1"


def test_user_text_is_escaped_and_only_http_links_are_links(base: str) -> None:
    html = request(f"{base}/").body
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert 'href="https://x.example/furious_flyer/status/1"' in html


def test_bad_parameters_are_refused_naming_them(base: str) -> None:
    reply = request(f"{base}/?period=2y")
    assert reply.status == 400
    assert "period: expected one of 24h, 7d, 30d, 90d, got &#39;2y&#39;" in reply.body
    reply = request(f"{base}/?brand=Nobody")
    assert reply.status == 400
    assert "no brand named" in reply.body and "Aurora Air, Nordlys" in reply.body
    assert request(f"{base}/?source=%3Cx%3E").status == 400


def test_security_headers_and_bundled_assets(base: str) -> None:
    reply = request(f"{base}/")
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "http" not in re.sub(
        r'href="https?://x\.example[^"]*"', "", reply.body.split("<main>")[0]
    )
    gzipped = request(f"{base}/?period=90d", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert request(f"{base}/static/style.css").status == 200
    assert request(f"{base}/static/app.js").status == 200


def _override(base: str, **fields: str) -> tuple[int, str, str]:
    form = {"mention_id": "1", "label": "positive", "next": "/?period=7d", **fields}
    reply = request(f"{base}/override", form=form)
    return reply.status, reply.headers.get("location", ""), reply.body


def test_override_needs_the_token(base: str, data: MemoryData) -> None:
    status, _, body = _override(base)
    assert status == 401 and "a token is required" in body
    status, _, body = _override(base, token="wrong-token-wrong-token")
    assert status == 403 and "wrong token" in body
    reply = request(f"{base}/override?token={TOKEN}", form={"mention_id": "1", "label": "positive"})
    assert reply.status == 401  # never from the URL
    assert data.mention_list[0].override is None
    assert _kpi(request(f"{base}/").body, "negative") == "67%"


def test_override_with_the_token_changes_the_trend(base: str, data: MemoryData) -> None:
    status, location, _ = _override(base, token=TOKEN, by="Ana")
    assert status == 303
    assert location == "/?period=7d&overridden=1:positive"
    assert (data.mention_list[0].override, data.mention_list[0].by) == ("positive", "Ana")
    html = request(f"{base}{location}").body
    assert "Mention #1 is now labelled positive." in html
    assert _kpi(html, "negative") == "33%"
    assert _mention_ids(html) == [2]


def test_an_override_shows_the_queued_alert_withdrawn_in_the_alert_log(
    base: str, data: MemoryData
) -> None:
    queued = AlertRow(
        id=8,
        kind="mention",
        brand="Aurora Air",
        status="pending",
        reason="anger 0.30 on reach",
        created_at=NOW - timedelta(hours=5),
        mention_id=2,
    )
    data.alert_list.append(queued)
    status, location, _ = _override(base, token=TOKEN, mention_id="2", label="neutral", by="Ana")
    assert status == 303
    html = request(f"{base}{location}").body
    row = html.split('data-alert="8"', 1)[1].split("</tr>", 1)[0]
    assert 'class="status status-withdrawn">withdrawn<' in row
    assert "not sent: relabelled neutral by Ana" in row and ">open<" not in row
    sent = html.split('data-alert="7"', 1)[1].split("</tr>", 1)[0]
    assert 'status-sent">sent<' in sent


def test_override_as_bearer_header_and_bad_requests(base: str, data: MemoryData) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = json.dumps({"mention_id": 2, "label": "neutral", "by": "bot"}).encode()
    reply = request(f"{base}/api/override", body=body, headers=bearer)
    assert reply.status == 200 and json.loads(reply.body)["label"] == "neutral"
    assert data.mention_list[1].override == "neutral"
    reply = request(f"{base}/api/override", body=body, headers={"Authorization": "Bearer nope"})
    assert reply.status == 403
    assert request(f"{base}/api/override", body=body).status == 401
    bad = json.dumps({"mention_id": 2, "label": "furious"}).encode()
    reply = request(f"{base}/api/override", body=bad, headers=bearer)
    assert reply.status == 400 and "label: expected negative, neutral or positive" in reply.body
    missing = json.dumps({"mention_id": 999, "label": "neutral"}).encode()
    assert request(f"{base}/api/override", body=missing, headers=bearer).status == 404
    assert request(f"{base}/api/override", body=b"{", headers=bearer).status == 400
    status, _, body = _override(base, token=TOKEN, mention_id="x1")
    assert status == 400 and "mention_id: expected a mention number" in body


def test_override_goes_back_only_to_this_dashboard(base: str) -> None:
    _, location, _ = _override(base, token=TOKEN, next="//evil.example/")
    assert location == "/?overridden=1:positive"
    _, location, _ = _override(base, token=TOKEN, next="https://evil.example/")
    assert location == "/?overridden=1:positive"


def test_a_loopback_dashboard_answers_only_loopback_names(data: MemoryData) -> None:
    app = create_app(data, token=None, clock=lambda: NOW, allowed_hosts=LOOPBACK_NAMES)
    with running(app) as base:
        assert request(f"{base}/").status == 200
        assert request(f"{base}/", headers={"Host": "localhost:8050"}).status == 200
        assert request(f"{base}/", headers={"Host": "rebound.evil.example"}).status == 400


def test_without_a_configured_token_overrides_are_off(data: MemoryData) -> None:
    with running(create_app(data, token=None, clock=lambda: NOW)) as base:
        html = request(f"{base}/").body
        assert 'class="relabel"' not in html
        status, _, body = _override(base, token="anything-at-all-123")
        assert status == 403 and "label overrides are off" in body
    assert data.mention_list[0].override is None


def test_the_token_never_reaches_a_log_line(base: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _override(base, token=TOKEN)
    _override(base, token=TOKEN[:-1] + "X")
    assert "override refused" in caplog.text and "labelled positive" in caplog.text
    assert TOKEN[:12] not in caplog.text


class _Broken(MemoryData):
    def trend(self, brands: object, view: object) -> dict[str, list]:  # type: ignore[override]
        raise StoreError("database unreachable at postgresql://listener:***@db/listener")


def test_a_database_failure_is_one_line_not_a_traceback() -> None:
    broken = _Broken(_data().brand_list)
    with running(create_app(broken, token=TOKEN, clock=lambda: NOW)) as base:
        reply = request(f"{base}/")
    assert reply.status == 503
    assert "cannot read the data: database unreachable at postgresql://listener:***@" in reply.body
    assert "Traceback" not in reply.body
