"""A notifier that prints one readable line per alert (runs without Slack, the demo, tests)."""

from __future__ import annotations

import sys
from typing import TextIO

from listener.config import Section
from listener.plugins import NotifierPlugin, PluginContext
from listener.ports import AlertMessage, Notifier


class ConsoleNotifier:
    """Writes ``[ALERT kind #id] brand: ...`` lines to ``stream``."""

    def __init__(self, *, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, message: AlertMessage) -> None:
        alert = message.alert
        stream = self._stream or sys.stdout
        head = f"[ALERT {alert.kind} #{alert.id}] {alert.brand}"
        if alert.kind == "report":
            body = " | ".join(str(line) for line in alert.details.get("lines", []))
        elif alert.kind == "digest":
            body = f"{alert.details.get('count', len(message.examples))} angry mentions folded"
        elif message.mention is not None:
            m = message.mention.mention
            text = " ".join(m.text.split())
            text = text if len(text) <= 200 else text[:199] + "…"
            body = f"@{m.author} ({m.author_reach:,} followers, {m.source}) {text!r} {m.url}"
        else:
            body = ""
        print(f"{head}: {body} | why: {alert.reason}", file=stream, flush=True)


class ConsoleSettings(Section):
    """``[notifiers.console]``: no options; the default when no notifier is configured."""


def build(
    settings: ConsoleSettings | None = None,
    context: PluginContext | None = None,
    *,
    stream: TextIO | None = None,
) -> Notifier:
    """A console notifier writing to ``stream`` (stdout by default)."""
    return ConsoleNotifier(stream=stream)


PLUGIN = NotifierPlugin(
    kind="console",
    settings=ConsoleSettings,
    build=build,
    summary="one line per alert on standard output",
)
