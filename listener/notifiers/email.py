"""E-mail alerts over SMTP with STARTTLS (the manager who lives in Outlook).

One message per alert, plain text with an HTML alternative. Everything from a post goes into
the HTML part escaped (``<script>`` in a tweet is shown, never run) and never into a header
raw: the subject is built from the brand and the alert kind, with control characters and line
breaks folded to spaces first, so a mention cannot add a ``Bcc:`` line (header injection).
The ``Message-ID`` is derived from the alert, the same on every retry, so a mail system that
saw it already can drop the copy.

Delivery: 2xx/3xx accepted; a refused connection, a 4xx reply or a TLS/network failure before
the data was accepted is retried by the outbox; a 5xx refusal of the sender or every recipient,
or rejected credentials, fail for good; a connection lost after the data was sent is "maybe
delivered" (retried later with the same Message-ID). The password never appears in a message.
"""

from __future__ import annotations

import hashlib
import html
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from pydantic import Field, SecretStr, model_validator

from listener.config import Duration, NonEmpty, Section
from listener.errors import (
    ConfigError,
    NotifyError,
    NotifyPermanent,
    NotifyRetryable,
    NotifyUncertain,
)
from listener.logs import register_secrets
from listener.plugins import NotifierPlugin, PluginContext
from listener.ports import AlertMessage, Notifier

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_ADDRESS = re.compile(r"[^@\s<>,;\"\x00-\x1f]+@[^@\s<>,;\"\x00-\x1f]+")
SUBJECT_LIMIT = 150


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"expected an e-mail address such as 'alerts@example.com', got {value!r}")
    return value


class EmailSettings(Section):
    """``[notifiers.NAME] kind = "email"``."""

    host: NonEmpty
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in (refused if the server cannot)."""
    ca_file: str | None = None
    """A CA bundle to verify the server with (a private CA); unset: the system's."""
    username: str | None = None
    password: SecretStr | None = None
    sender: NonEmpty
    """The From address."""
    to: list[NonEmpty] = Field(default_factory=list)
    """Recipients of every brand without its own ``[brands.NAME] to``."""
    subject_prefix: str = "[listener]"
    timeout: Duration = timedelta(seconds=20)

    @model_validator(mode="after")
    def _check(self) -> EmailSettings:
        _address(self.sender)
        for address in self.to:
            _address(address)
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        if self.password is not None and not self.starttls:
            raise ValueError("a password is only sent over STARTTLS: set starttls = true")
        return self

    def resolve_paths(self, resolve: Any) -> EmailSettings:
        if self.ca_file is None:
            return self
        return self.model_copy(update={"ca_file": resolve(self.ca_file, "ca_file")})


class EmailBrandOptions(Section):
    """``[brands.NAME]`` of an e-mail notifier: the brand's own recipients."""

    to: list[NonEmpty] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> EmailBrandOptions:
        for address in self.to:
            _address(address)
        return self


def header_text(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """``value`` safe for a header: control characters and line breaks become one space."""
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def subject(message: AlertMessage, prefix: str) -> str:
    alert = message.alert
    if alert.kind == "digest":
        what = f"{int(alert.details.get('count', len(message.examples))):,} angry mentions"
    elif alert.kind == "spike":
        what = "negative spike"
    else:
        author = f" by @{message.mention.mention.author}" if message.mention else ""
        what = f"angry mention{author}"
    return header_text(f"{prefix} {alert.brand}: {what} (alert #{alert.id})".strip())


def bodies(message: AlertMessage) -> tuple[str, str]:
    """(plain text, HTML) of one alert; the HTML escapes everything that came from a post."""
    alert = message.alert
    lines = [f"Why it fired: {alert.reason}"]
    blocks = [f"<p><b>Why it fired:</b> {html.escape(alert.reason)}</p>"]
    mentions = [message.mention] if message.mention is not None else []
    mentions += list(message.examples)
    for stored in mentions:
        m = stored.mention
        who = f"@{m.author} ({m.author_reach:,} followers, {m.source})"
        lines += ["", who, m.text, m.url]
        link = ""
        if m.url.startswith(("https://", "http://")):
            link = f' <a href="{html.escape(m.url, quote=True)}">open</a>'
        blocks.append(
            f"<blockquote><p>{html.escape(m.text)}</p><p>{html.escape(who)}{link}</p></blockquote>"
        )
    if message.sentiment is not None:
        s = message.sentiment
        probs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(s.probabilities.items()))
        score = f"{s.label} ({probs}); anger {s.anger:.2f}"
        lines += ["", f"Score: {score}"]
        blocks.append(f"<p><b>Score:</b> {html.escape(score)}</p>")
    ack = f"{message.command_prefix} alerts ack {alert.id}"
    lines += ["", f"Acknowledge: {ack}"]
    blocks.append(f"<p>Acknowledge: <code>{html.escape(ack)}</code></p>")
    return "\n".join(lines) + "\n", "<html><body>" + "".join(blocks) + "</body></html>\n"


class EmailNotifier:
    """Sends each alert as one e-mail through an SMTP server."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = True,
        tls: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        subject_prefix: str = "[listener]",
        timeout: timedelta = timedelta(seconds=20),
        name: str = "email",
    ) -> None:
        self._host, self._port = host, port
        self._sender = sender
        self._recipients = list(recipients)
        self._starttls = starttls
        self._tls = tls or ssl.create_default_context()
        self._login = (username, password) if username and password else None
        self._prefix = subject_prefix
        self._name = name
        self.send_timeout = timeout

    def compose(self, message: AlertMessage) -> EmailMessage:
        """The e-mail of one alert (also what tests read)."""
        alert = message.alert
        mail = EmailMessage()
        mail["Subject"] = subject(message, self._prefix)
        mail["From"] = self._sender
        mail["To"] = ", ".join(self._to(message))
        mail["Date"] = formatdate(alert.created_at.timestamp(), usegmt=True)
        digest = hashlib.sha256(alert.dedupe_key.encode("utf-8")).hexdigest()[:16]
        mail["Message-ID"] = make_msgid(idstring=f"alert-{alert.id}-{digest}", domain="listener")
        plain, rich = bodies(message)
        mail.set_content(plain)
        mail.add_alternative(rich, subtype="html")
        return mail

    def send(self, message: AlertMessage) -> None:
        mail = self.compose(message)
        sent = False
        try:
            with smtplib.SMTP(
                self._host, self._port, timeout=self.send_timeout.total_seconds()
            ) as smtp:
                if self._starttls:
                    smtp.starttls(context=self._tls)
                if self._login is not None:
                    smtp.login(*self._login)
                sent = True  # from here the data may be accepted before an error shows
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyPermanent(f"email {self._name}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise NotifyPermanent(f"email {self._name}: the server offers no STARTTLS") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise self._refused("every recipient was refused", codes) from None
        except smtplib.SMTPResponseException as exc:
            raise self._refused("the server refused the message", [exc.smtp_code]) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionResetError) as exc:
            if sent:
                raise NotifyUncertain(
                    f"email {self._name}: connection lost ({type(exc).__name__})"
                ) from None
            raise NotifyRetryable(
                f"email {self._name}: server unreachable ({type(exc).__name__})"
            ) from None
        except (ssl.SSLError, OSError, smtplib.SMTPException) as exc:
            raise NotifyRetryable(
                f"email {self._name}: server unreachable ({type(exc).__name__})"
            ) from None
        if refused:
            # some recipients took it: retrying would mail those twice; say who did not
            codes = sorted({code for code, _ in refused.values()})
            raise NotifyPermanent(
                f"email {self._name}: {len(refused)} recipient(s) refused (codes {codes})"
            )

    def _to(self, message: AlertMessage) -> list[str]:
        own = message.options.to if isinstance(message.options, EmailBrandOptions) else []
        recipients = list(own) or self._recipients
        if not recipients:
            raise NotifyPermanent(
                f"email {self._name}: no recipients for brand {message.alert.brand!r}"
            )
        return recipients

    def _refused(self, what: str, codes: list[int]) -> NotifyError:
        if all(400 <= c < 500 for c in codes):
            return NotifyRetryable(f"email {self._name}: {what} (codes {codes}), retrying")
        return NotifyPermanent(f"email {self._name}: {what} (codes {codes})")


def build(settings: EmailSettings, context: PluginContext | None = None) -> Notifier:
    """The e-mail notifier for a ``[notifiers.NAME] kind = "email"`` section."""
    password = settings.password.get_secret_value() if settings.password else None
    if password:
        register_secrets(password)
    name = context.name if context is not None else "email"
    try:
        tls = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"notifiers.{name}.ca_file: cannot read {settings.ca_file}: {type(exc).__name__}"
        ) from None
    return EmailNotifier(
        host=settings.host,
        port=settings.port,
        sender=settings.sender,
        recipients=settings.to,
        starttls=settings.starttls,
        tls=tls,
        username=settings.username,
        password=password,
        subject_prefix=settings.subject_prefix,
        timeout=settings.timeout,
        name=name,
    )


PLUGIN = NotifierPlugin(
    kind="email",
    settings=EmailSettings,
    build=build,
    brand_options=EmailBrandOptions,
    summary="one e-mail per alert over SMTP with STARTTLS (plain text and HTML)",
)
