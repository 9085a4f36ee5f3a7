"""E-mail alerts against a real local SMTP server (aiosmtpd) that requires STARTTLS and login,
with a self-signed certificate made for the test: delivered once over TLS, retried while the
server is down, bodies and headers escaped (no header injection from mention text)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from listener.notifiers.email import EmailBrandOptions, EmailSettings, build
from listener.plugins import PluginContext
from tests.notify_world import NotifyWorld, policy
from tests.receivers import SmtpReceiver, free_port, self_signed

PASSWORD = "smtp-pa55word-xyz"
EVIL = (
    "Aurora lost my bag!!\r\nBcc: victim@evil.example\r\nSubject: pwned\n"
    '<script>alert(1)</script> <a href="http://evil">click</a> & more'
)


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def smtp(certs: tuple[Path, Path]) -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(cert=certs[0], key=certs[1], password=PASSWORD).start()
    yield receiver
    receiver.stop()


def _settings(port: int, ca: Path, **changes: object) -> EmailSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "ca_file": str(ca),
        "username": "alerts",
        "password": SecretStr(PASSWORD),
        "sender": "listener@example.com",
        "to": ["cx-team@example.com"],
        "timeout": timedelta(seconds=5),
    }
    values.update(changes)
    return EmailSettings.model_validate(values)


def _world(engine: Engine, settings: EmailSettings, **policy_fields: object) -> NotifyWorld:
    notifier = build(settings, PluginContext(name="mail"))
    return NotifyWorld(engine, {"mail": notifier}, policy(**policy_fields))


def test_an_alert_is_mailed_once_over_starttls(
    engine: Engine, smtp: SmtpReceiver, certs: tuple[Path, Path]
) -> None:
    world = _world(engine, _settings(smtp.port, certs[0]))
    world.angry(1, text=EVIL, author="angry\r\nX-Evil: 1")
    assert world.dispatch()["sent"] == 1
    assert world.restart().dispatch(timedelta(hours=1))["sent"] == 0
    assert len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail.tls, "the message went over the STARTTLS-upgraded connection"
    assert mail.recipients == ["cx-team@example.com"]
    message = mail.message
    # no header injection: one Subject, no Bcc or X-Evil header, the subject is one line
    assert message.get_all("Subject") == [message["Subject"]] and message["Bcc"] is None
    assert message["X-Evil"] is None and "\n" not in str(message["Subject"])
    assert "Aurora Air" in message["Subject"] and "@angry X-Evil: 1" in message["Subject"]
    alert = world.alerts()[0]
    assert f"alert-{alert.id}-" in message["Message-ID"]
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert "<script>alert(1)</script>" in plain.get_content()  # plain text shows it as typed
    html_body = rich.get_content()
    assert "<script>" not in html_body and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_body
    assert 'href="http://evil"' not in html_body and "&amp; more" in html_body
    assert "negative 0.92" in plain.get_content() and "anger 0.90" in plain.get_content()


def test_the_brand_section_picks_the_recipients(
    engine: Engine, smtp: SmtpReceiver, certs: tuple[Path, Path]
) -> None:
    own = EmailBrandOptions(to=["aurora-cx@example.com", "manager@example.com"])
    world = _world(engine, _settings(smtp.port, certs[0]), options={"mail": own})
    world.angry(1)
    assert world.dispatch()["sent"] == 1
    assert smtp.mails[0].recipients == ["aurora-cx@example.com", "manager@example.com"]


def test_server_down_then_up_delivers_exactly_once(
    engine: Engine, certs: tuple[Path, Path]
) -> None:
    port = free_port()
    world = _world(engine, _settings(port, certs[0]))
    world.angry(1)
    counts = world.dispatch()
    assert counts["retried"] == 1 and counts["sent"] == 0
    assert "server unreachable (ConnectionRefusedError)" in (world.alerts()[0].last_error or "")
    receiver = SmtpReceiver(cert=certs[0], key=certs[1], port=port, password=PASSWORD).start()
    try:
        assert world.restart().dispatch(timedelta(minutes=10))["sent"] == 1
        assert world.dispatch(timedelta(minutes=20))["sent"] == 0
    finally:
        receiver.stop()
    assert len(receiver.mails) == 1


def test_a_temporary_refusal_is_retried_a_permanent_one_is_not(
    engine: Engine, smtp: SmtpReceiver, certs: tuple[Path, Path]
) -> None:
    world = _world(engine, _settings(smtp.port, certs[0]))
    world.angry(1)
    smtp.reply = "451 try again later"
    assert world.dispatch()["retried"] == 1
    smtp.reply = "250 ok"
    assert world.dispatch(timedelta(minutes=10))["sent"] == 1
    world.angry(2)
    smtp.reply = "554 rejected as spam"
    assert world.dispatch(timedelta(minutes=20))["failed"] == 1
    assert world.dispatch(timedelta(hours=2))["sent"] == 0
    assert len(smtp.mails) == 1


def test_wrong_password_or_an_untrusted_certificate_never_sends(
    engine: Engine, smtp: SmtpReceiver, certs: tuple[Path, Path], tmp_path: Path
) -> None:
    world = _world(engine, _settings(smtp.port, certs[0], password=SecretStr("wrong-one")))
    world.angry(1)
    assert world.dispatch()["failed"] == 1
    assert "login refused" in (world.alerts()[0].last_error or "")
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    world = _world(engine, _settings(smtp.port, other))
    world.angry(2)
    assert world.dispatch(timedelta(minutes=1))["retried"] == 1  # TLS refused: not sent
    assert smtp.mails == []
    assert all(PASSWORD not in (a.last_error or "") for a in world.alerts())


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="e-mail address"):
        EmailSettings(host="h", sender="not an address")
    with pytest.raises(ValidationError, match="both username and password"):
        EmailSettings(host="h", sender="a@b.c", username="x")
    with pytest.raises(ValidationError, match="only sent over STARTTLS"):
        EmailSettings(
            host="h", sender="a@b.c", username="x", password=SecretStr("y"), starttls=False
        )
