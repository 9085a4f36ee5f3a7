"""Analysts' commands: ``trends``, ``report``, ``override``, ``rules`` and ``rollups``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import click

from listener.cli.model import parse_since
from listener.cli.state import CliState
from listener.domain import LABELS, Label, utcnow

BUCKETS = ("hour", "day")


def _period(since: str, until: str | None) -> tuple[datetime, datetime]:
    now = utcnow()
    end = parse_since(until, now=now) if until else now
    start = parse_since(since, now=end if until else now)
    if start >= end:
        raise click.BadParameter(f"--since {since!r} is not before --until", param_hint="--since")
    return start, end


def _filters(sources: tuple[str, ...], langs: tuple[str, ...]) -> dict[str, list[str]]:
    return {"sources": list(sources), "languages": list(langs)}


@click.command("trends")
@click.option("--brand", required=True, help="Brand name as in the config.")
@click.option("--vs", "versus", multiple=True, help="A competitor (repeat); default: the config's.")
@click.option("--since", default="30d", show_default=True, help="Duration (30d, 12h) or ISO date.")
@click.option("--until", default=None, help="End of the period (default: now).")
@click.option("--bucket", type=click.Choice(BUCKETS), default="day", show_default=True)
@click.option("--source", "sources", multiple=True, help="Only this source (repeat).")
@click.option("--lang", "langs", multiple=True, help="Only this language code (repeat).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "png"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write (default: stdout; for png: trends-BRAND.png).",
)
@click.pass_obj
def trends(
    state: CliState,
    brand: str,
    versus: tuple[str, ...],
    since: str,
    until: str | None,
    bucket: str,
    sources: tuple[str, ...],
    langs: tuple[str, ...],
    fmt: str,
    output: Path | None,
) -> None:
    """A brand's volume, net sentiment, anger, alerts and share of voice over time, next to
    its competitors: a table with sparklines, CSV, JSON or a PNG chart."""
    from listener.trends import render

    start, end = _period(since, until)
    app = state.app()
    app.upgrade()
    name = app.query(brand).brand
    others = [app.query(v).brand for v in versus] if versus else app.competitors(name)
    brands = [name, *[o for o in dict.fromkeys(others) if o != name]]
    kind = cast(Any, bucket)
    result = app.trends.trends(
        brands, since=start, until=end, bucket=kind, sources=sources, languages=langs
    )
    share = app.trends.share_of_voice(
        brands, since=start, until=end, sources=sources, languages=langs
    )
    filters = _filters(sources, langs)
    if fmt == "png":
        from listener.trends.chart import render_png

        path = output or Path(f"trends-{name.replace(' ', '_')}.png")
        spikes = app.trends.spikes(name, since=start, until=end)
        render_png(result, path, spikes=spikes)
        click.echo(f"wrote {path}", err=True)
        return
    if fmt == "csv":
        text = render.to_csv(result)
    elif fmt == "json":
        text = render.to_json(result, share, filters=filters)
    else:
        text = render.to_table(result, share, filters=filters)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


@click.command("report")
@click.option("--brand", required=True, help="Brand name as in the config.")
@click.option("--since", default="7d", show_default=True, help="Duration (7d, 24h) or ISO date.")
@click.option("--until", default=None, help="End of the period (default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def report(state: CliState, brand: str, since: str, until: str | None, fmt: str) -> None:
    """The brand's report: volume, net sentiment and its change, share of voice, complaint
    drivers, alerts and first-response time (what the scheduled Slack summary says)."""
    from listener.trends.report import summary_lines

    start, end = _period(since, until)
    app = state.app()
    app.upgrade()
    name = app.query(brand).brand
    summary = app.trends.summary(
        name, competitors=app.competitors(name), since=start, until=end, drivers=5
    )
    if fmt == "json":
        doc = {
            "brand": name,
            "since": start.isoformat(),
            "until": end.isoformat(),
            "volume": summary.total.volume,
            "previous_volume": summary.previous.volume,
            "net_sentiment": round(summary.total.net_sentiment, 2),
            "net_change": round(summary.net_change, 2),
            "share_of_voice": {v.brand: round(v.share, 2) for v in summary.share_of_voice.brands},
            "drivers": [
                {"term": d.term, "count": d.count, "baseline_count": d.baseline_count}
                for d in summary.drivers
            ],
            "alerts": summary.alerts,
            "spikes": summary.spikes,
            "mean_first_response_seconds": summary.mean_response_seconds,
            "lines": summary_lines(summary),
        }
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    for line in summary_lines(summary):
        click.echo(line)


@click.command("override")
@click.argument("mention_id", type=int)
@click.option(
    "--label",
    type=click.Choice([*LABELS, "model"]),
    required=True,
    help="The right label; 'model' drops the override.",
)
@click.option("--by", default=None, help="Who corrects it (default: $USER).")
@click.pass_obj
def override(state: CliState, mention_id: int, label: str, by: str | None) -> None:
    """Correct the label of stored mention MENTION_ID (wins over every model score, survives
    re-scoring; trends, export and alerts follow: a label other than negative withdraws the
    mention's alert if it has not gone out yet)."""
    import getpass

    app = state.app()
    app.upgrade()
    if label == "model":
        row = app.labels.clear_override(mention_id)
    else:
        who = by or getpass.getuser()
        row = app.labels.override(mention_id, cast(Label, label), by=who, at=utcnow())
    source = f"set by {row.overridden_by}" if row.overridden_by else "the model's"
    click.echo(f"mention {mention_id}: label {row.label} ({source}; model said {row.model_label})")
    if row.alert_id is not None and row.alert_status == "withdrawn":
        click.echo(f"alert {row.alert_id}: withdrawn, it will not be sent")
    elif row.alert_id is not None and row.alert_status == "sent" and row.label != "negative":
        click.echo(f"alert {row.alert_id}: sent already, it stays in the alert log")


@click.group("rules")
def rules() -> None:
    """Label rules: set the label of mentions that match a query."""


@rules.command("add")
@click.argument("name")
@click.option("--query", required=True, help="listener query language, e.g. 'killer deal'.")
@click.option("--label", type=click.Choice(LABELS), required=True)
@click.option("--brand", default=None, help="Only this brand's mentions (default: every brand).")
@click.option("--by", default=None, help="Who adds it (default: $USER).")
@click.option("--apply", "apply_now", is_flag=True, help="Also apply it to stored mentions.")
@click.pass_obj
def rules_add(
    state: CliState,
    name: str,
    query: str,
    label: str,
    brand: str | None,
    by: str | None,
    apply_now: bool,
) -> None:
    """Add rule NAME; mentions scored from now on that match it get its label."""
    import getpass

    app = state.app()
    app.upgrade()
    brand_name = app.query(brand).brand if brand else None
    rule = app.labels.add_rule(
        name=name,
        query=query,
        label=label,
        brand=brand_name,
        by=by or getpass.getuser(),
        at=utcnow(),
    )
    click.echo(
        f"rule {rule.name!r}: {rule.query!r} -> {rule.label} ({rule.brand or 'every brand'})"
    )
    if apply_now:
        click.echo(f"labelled {app.labels.apply_rules(brand=brand_name)} stored mentions by rules")


@rules.command("list")
@click.pass_obj
def rules_list(state: CliState) -> None:
    """The label rules, oldest first."""
    app = state.app()
    app.upgrade()
    found = app.labels.rules()
    if not found:
        click.echo("no label rules (add one: listener rules add NAME --query ... --label ...)")
    for r in found:
        click.echo(
            f"{r.name}\t{r.label}\t{r.brand or '*'}\t{r.query}\t{r.created_by} "
            f"{r.created_at:%Y-%m-%d %H:%M}"
        )


@rules.command("remove")
@click.argument("name")
@click.pass_obj
def rules_remove(state: CliState, name: str) -> None:
    """Remove rule NAME; the mentions it labelled get their model's (or another rule's) label."""
    app = state.app()
    app.upgrade()
    count = app.labels.remove_rule(name)
    click.echo(f"removed rule {name!r}; {count} mentions relabelled")


@rules.command("apply")
@click.option("--brand", default=None, help="Only this brand's mentions.")
@click.option("--since", default=None, help="Only mentions created since (7d, ISO date).")
@click.pass_obj
def rules_apply(state: CliState, brand: str | None, since: str | None) -> None:
    """Apply the rules to stored mentions (analysts' overrides are kept)."""
    app = state.app()
    app.upgrade()
    brand_name = app.query(brand).brand if brand else None
    count = app.labels.apply_rules(brand=brand_name, since=parse_since(since) if since else None)
    click.echo(f"labelled {count} stored mentions by rules")


@click.group("rollups")
def rollups() -> None:
    """The trend rollups."""


@rollups.command("rebuild")
@click.pass_obj
def rollups_rebuild(state: CliState) -> None:
    """Recompute the trend and term rollups from the stored mentions, scores and alerts."""
    from tqdm import tqdm

    from listener.store.rollups import rebuild

    app = state.app()
    app.upgrade()
    total = app.store.counts()["mentions"]
    with tqdm(total=total, unit="mention", desc="rebuilding rollups", file=sys.stderr) as bar:
        counts = rebuild(app.engine, progress=bar.update)
    click.echo(
        f"rollups rebuilt from {total:,} mentions: {counts['trend_rows']:,} trend rows, "
        f"{counts['term_rows']:,} term rows"
    )


COMMANDS = (trends, report, override, rules, rollups)
