"""The score stage: queued mentions -> scores and the alerts they cause, over the ports only.

``score_ids`` scores an explicit batch of mention ids (a queue task's input); ``drain`` scores
whatever is queued until the queue is empty, reading the next batch and writing the previous
one in a second thread while the model runs, so the database round trips hide behind the
model. Both write a batch's scores, its alerts and its removal from the queue in ONE
transaction, and both are idempotent: a batch scored twice (a retried job) adds nothing, and a
batch whose mentions were scored meanwhile is not scored again (they are no longer queued).
The model is only asked for (``scorer()``, which may load it) when there is something to score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from listener.domain import NewAlert, Score, Sentiment, StoredMention, utcnow
from listener.ports import ReplyRecorder, ScoreQueue, Scorer, ScoreStore
from listener.reposts import with_repost_reach
from listener.rules import normalize_handle

log = logging.getLogger(__name__)

MentionRule = Callable[[StoredMention, Sentiment], NewAlert | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreResult:
    """One score run: mentions scored, the alerts their scores raised, batches written."""

    scored: int = 0
    alerts: int = 0
    batches: int = 0

    @property
    def produced(self) -> int:
        """New alerts for the dispatch stage (``pipeline.StageResult``)."""
        return self.alerts

    def __add__(self, other: ScoreResult) -> ScoreResult:
        return ScoreResult(
            scored=self.scored + other.scored,
            alerts=self.alerts + other.alerts,
            batches=self.batches + other.batches,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreStage:
    """What scoring needs; ``scorer`` returns the model, loading it on first use."""

    store: ScoreStore
    queue: ScoreQueue
    outbox: ReplyRecorder
    scorer: Callable[[], Scorer]
    rule: MentionRule
    handles: Mapping[str, Collection[str]]
    """Each brand's own accounts (a reply by one is the first response to an alert)."""
    batch_size: int
    clock: Callable[[], datetime] = utcnow
    """The time recorded on scores."""

    def score_ids(self, ids: Sequence[int]) -> ScoreResult:
        """Score the mentions of ``ids`` that are still queued (see the module docstring)."""
        pending = self.queue.queued_among(ids)
        if not pending:
            return ScoreResult()
        sentiments = self.scorer().score([p.mention.text for p in pending])
        return self.save(pending, sentiments, done=ids)

    def drain(self, *, should_stop: Callable[[], bool] = lambda: False) -> ScoreResult:
        """Score queued mentions, batch after batch, until none is left or ``should_stop``."""
        total = ScoreResult()
        with ThreadPoolExecutor(1, thread_name_prefix="listener-score-io") as io:
            after = 0
            fetch = io.submit(self.queue.queued, after=after, limit=self.batch_size)
            write: Future[ScoreResult] | None = None
            while not should_stop():
                pending = fetch.result()
                if not pending:
                    if write is not None:
                        total += write.result()
                        write = None
                    if after == 0:
                        break
                    # from the start once more: rows committed late by a concurrent writer
                    after = 0
                    fetch = io.submit(self.queue.queued, after=0, limit=self.batch_size)
                    continue
                after = pending[-1].id
                fetch = io.submit(self.queue.queued, after=after, limit=self.batch_size)
                sentiments = self.scorer().score([p.mention.text for p in pending])
                if write is not None:
                    total += write.result()
                ids = [p.id for p in pending]
                write = io.submit(self.save, pending, sentiments, done=ids)
            if write is not None:
                total += write.result()
        return total

    def save(
        self,
        pending: Sequence[StoredMention],
        sentiments: Sequence[Sentiment],
        *,
        done: Sequence[int],
    ) -> ScoreResult:
        """Store one batch's scores and alerts and take ``done`` off the queue, at once."""
        model = self.scorer().model_id
        now = self.clock()
        scores = [
            Score(mention_id=p.id, model=model, sentiment=s, scored_at=now)
            for p, s in zip(pending, sentiments, strict=True)
        ]
        judged = with_repost_reach(self.store, pending)  # reposts stored by now add their reach
        alerts = [
            scored_by(a, model)
            for p, s in zip(judged, sentiments, strict=True)
            if (a := self.rule(p, s))
        ]
        scored = self.store.add_scores(scores, alerts, done=done)
        record_earlier_replies(self.store, self.outbox, self.handles, pending, alerts)
        return ScoreResult(scored=scored, alerts=len(alerts), batches=1)


def scored_by(alert: NewAlert, model: str) -> NewAlert:
    """``alert`` with the model that fired it named beside the recorded score."""
    recorded = alert.details.get("sentiment")
    if not isinstance(recorded, Mapping):
        return alert
    return replace(alert, details={**alert.details, "sentiment": {**recorded, "model": model}})


def record_earlier_replies(
    store: ScoreStore,
    outbox: ReplyRecorder,
    handles: Mapping[str, Collection[str]],
    pending: Sequence[StoredMention],
    alerts: Sequence[NewAlert],
) -> None:
    """A brand reply collected before the alert existed (same poll, backfill) still counts as
    the alert's first response."""
    by_id = {p.id: p.mention for p in pending}
    for alert in alerts:
        mention = by_id.get(alert.mention_id) if alert.mention_id is not None else None
        own = handles.get(alert.brand, ())
        if mention is None or not own:
            continue
        authors = {normalize_handle(h) for h in own}
        reply = store.first_reply(mention.source, mention.external_id, authors=authors)
        if reply is not None:
            by = f"@{reply.mention.author.removeprefix('@')}"
            outbox.record_reply(
                reply.mention.source, mention.external_id, by=by, at=reply.mention.created_at
            )
