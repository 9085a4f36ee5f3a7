"""Render an alert as Slack Block Kit plus a plain-text fallback (pure, no slack_sdk).

Everything that comes from a post (text, author, URL) goes through ``escape``: Slack parses
``&``, ``<`` and ``>`` as control characters, so once escaped ``<!channel>``, ``<!here>``,
``<@U123>`` and ``<http://evil|click>`` in a tweet are shown as typed and ping or link nobody.
Block Kit limits are kept: a section's text is at most 3,000 characters (longer post texts are
cut with a visible note), a header 150, at most 50 blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from listener.domain import StoredMention
from listener.ports import AlertMessage
from listener.trends.explain import explained

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Rendered:
    """What a notifier posts: ``text`` is the notification/fallback, ``blocks`` the message."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str) -> str:
    """Escape Slack's control characters so user text is shown literally."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def clip(text: str, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters, never inside an entity, with a
    visible note saying how much was cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget = limit - 40  # room for the note
    out: list[str] = []
    used = 0
    taken = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
        taken += 1
    return "".join(out) + f"… _(truncated, {len(text) - taken:,} more chars)_"


def safe_link(url: str, label: str) -> str:
    """A mrkdwn link to an http(s) ``url``; anything else is shown as escaped text."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return escape(url)
    target = escape(url).replace("|", "%7C")
    return f"<{target}|{escape(label)}>"


def _plain(text: str, limit: int) -> dict[str, Any]:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t[:2000]} for t in texts]}


def _quote(text: str, limit: int) -> str:
    body = clip(text, limit - 40) if text.strip() else "_(empty post)_"
    return "\n".join("> " + line for line in body.splitlines() or [""])[:limit]


def _who(m: StoredMention) -> str:
    src = m.mention
    link = safe_link(src.url, f"Open on {src.source}") if src.url else escape(src.source)
    return (
        f"*{escape(src.author)}* · {src.author_reach:,} followers · {escape(src.source)} · {link}"
    )


def render(message: AlertMessage) -> Rendered:
    """Block Kit and fallback text for a mention, spike or digest alert."""
    alert = message.alert
    if alert.kind == "digest":
        return _digest(message)
    if alert.kind == "report":
        return _report(message)
    if alert.kind == "spike":
        head = f"📈 Negative spike for {alert.brand}"
        blocks = [
            {"type": "header", "text": _plain(head, HEADER_LIMIT)},
            _section(f"*Why it fired:* {escape(alert.reason)}"),
        ]
        drove = explained(alert.details)
        if drove:
            blocks.append(_section("\n".join(escape(line) for line in drove)))
        for example in message.examples[:3]:
            blocks.append(_section(f"{_quote(example.mention.text, 600)}\n{_who(example)}"))
        blocks.append(_context(f"alert #{alert.id} · {alert.created_at:%Y-%m-%d %H:%M} UTC"))
        return Rendered(text=f"{head}: {escape(alert.reason)}"[:FALLBACK_LIMIT], blocks=blocks)
    head = f"😡 Angry mention of {alert.brand}"
    blocks = [{"type": "header", "text": _plain(head, HEADER_LIMIT)}]
    text = ""
    if message.mention is not None:
        text = message.mention.mention.text
        blocks.append(_section(_quote(text, SECTION_LIMIT)))
        blocks.append(_section(_who(message.mention)))
    if message.sentiment is not None:
        s = message.sentiment
        probs = " · ".join(
            f"{k} {s.probabilities.get(k, 0.0):.2f}" for k in ("negative", "neutral", "positive")
        )
        blocks.append(_context(f"*{s.label}* ({probs}) · anger *{s.anger:.2f}*"))
    blocks.append(_section(f"*Why it fired:* {escape(alert.reason)}"))
    ack = f"{message.command_prefix} alerts ack {alert.id}"
    blocks.append(_context(f"alert #{alert.id} · ack: `{escape(ack)}`"))
    author = f" @{message.mention.mention.author}" if message.mention else ""
    fallback = f"{head}{escape(author)}: {clip(text, 300)}"
    return Rendered(text=fallback[:FALLBACK_LIMIT], blocks=blocks)


def _report(message: AlertMessage) -> Rendered:
    alert = message.alert
    lines = [str(line) for line in alert.details.get("lines", [])] or [alert.reason]
    head = f"📊 {alert.brand}: {alert.details.get('every', '')} report".replace(
        ":  report", ": report"
    )
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(head, HEADER_LIMIT)}]
    blocks += [_section(escape(line)) for line in lines[:40]]
    return Rendered(text=f"{head}: {escape(lines[0])}"[:FALLBACK_LIMIT], blocks=blocks[:50])


def _digest(message: AlertMessage) -> Rendered:
    alert = message.alert
    count = int(alert.details.get("count", len(message.examples)))
    command = f"{message.command_prefix} alerts list --digest {alert.id}"
    head = f"🚨 {count:,} angry mentions of {alert.brand}"
    summary = (
        f"*{count:,}* angry mentions arrived together; they are folded into this digest instead "
        f"of {count:,} separate pings.\n*Why:* {escape(alert.reason)}"
    )
    by_source = alert.details.get("by_source")
    if isinstance(by_source, dict) and by_source:
        ranked = sorted(by_source.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))[:10]
        parts = [f"{escape(str(k))} {int(v):,}" for k, v in ranked]
        summary += "\n*By source:* " + " · ".join(parts)
    drove = explained({k: v for k, v in alert.details.items() if k != "top_sources"})
    if drove:
        summary += "\n" + "\n".join(escape(line) for line in drove)
    span = _span(alert.details.get("first_at"), alert.details.get("last_at"))
    if span:
        summary += f"\n*Alerted:* {span}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(head, HEADER_LIMIT)},
        _section(summary + f"\n*All of them:* `{escape(command)}`"),
    ]
    if message.examples:
        blocks.append(_section(f"*Top {len(message.examples)} by reach × anger:*"))
    for example in message.examples[:20]:
        quote = _quote(example.mention.text, 600)
        blocks.append(_section(f"{quote}\n{_who(example)}"))
    ack = f"{message.command_prefix} alerts ack {alert.id}"
    blocks.append(_context(f"digest #{alert.id} · ack all: `{escape(ack)}`"))
    return Rendered(text=f"{head} (digest)", blocks=blocks[:50])


def _span(first: Any, last: Any) -> str:
    """'14:02-14:09 UTC' for the digest's ISO times (first and last alert), '' if unknown."""
    try:
        start, end = datetime.fromisoformat(str(first)), datetime.fromisoformat(str(last))
    except ValueError:
        return ""
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC"
