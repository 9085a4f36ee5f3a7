"""The seams of listener: every pluggable component is one of these protocols.

Orchestration (pipeline, rules, trends) depends on these and on ``domain`` only; concrete
classes are chosen in ``app`` alone. Each method's docstring is its contract.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from listener.domain import (
    Alert,
    AlertStatus,
    Batch,
    BrandQuery,
    NewAlert,
    Score,
    Sentiment,
    StoredMention,
    TrendPoint,
)


@runtime_checkable
class Collector(Protocol):
    """Reads brand mentions from one source (twitter, reddit, replay, ...)."""

    source: str
    """The value stored in ``Mention.source`` (the config kind)."""

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        """Return mentions newer than ``cursor`` (None: first run) and the cursor to resume from.

        May return mentions seen before (the store makes re-delivery harmless) but never skips
        one: the returned cursor covers exactly the returned mentions and quarantined items.
        Items that cannot be parsed go to ``Batch.quarantined`` with a reason; the rest goes on.
        Raises RateLimited, SourceUnavailable or AuthError; never a third-party exception.
        """
        ...


@runtime_checkable
class Scorer(Protocol):
    """A sentiment model."""

    @property
    def model_id(self) -> str:
        """'name@version', recorded with every score it produces."""
        ...

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score ``texts``; the result has one Sentiment per text, in the same order.

        Any text is accepted (any script, empty, very long: truncated). Raises ModelError only
        when the model itself cannot run.
        """
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertMessage:
    """Everything a notifier needs to render one alert (no database access needed)."""

    alert: Alert
    mention: StoredMention | None = None
    sentiment: Sentiment | None = None
    channel: str | None = None
    """Where the brand's alerts go, for a notifier with destinations and no ``options``
    (kept for callers that set it by hand; config-built policies use ``options``)."""
    options: Any = None
    """The brand's section for this notifier (``[brands.NAME]``), as the notifier plugin's
    ``brand_options`` model validated it; None when the brand has none."""
    examples: Sequence[StoredMention] = ()
    """For digests: the top mentions folded into it."""
    command_prefix: str = "listener"
    """How the team runs the CLI (``listener --config FILE``), for the commands shown."""


@runtime_checkable
class Notifier(Protocol):
    """Delivers alerts to people (Slack, console, ...)."""

    def send(self, message: AlertMessage) -> None:
        """Deliver one alert. Raises NotifyRetryable (with retry_after when the server said) or
        NotifyPermanent; never a third-party exception, never a secret in the message.

        A notifier may also have ``send_timeout`` (a timedelta: the longest a send takes),
        which the dispatch lease outlives."""
        ...


@runtime_checkable
class CheckingNotifier(Notifier, Protocol):
    """A notifier that can read back what it posted (Slack with a bot token), so an attempt
    whose outcome is unknown (a timeout, a crash) is checked instead of posted again."""

    def send(self, message: AlertMessage) -> None:
        """As ``Notifier.send``; raises NotifyUncertain when the request went out but no answer
        came back, and tags the message so that ``delivered`` can find it."""
        ...

    def delivered(self, message: AlertMessage) -> bool | None:
        """Whether an earlier ``send`` of this alert reached its destination: True (found),
        False (not there), None (cannot tell here: no permission to read back; the caller posts
        again). Raises NotifyRetryable when it cannot tell now (ask again later)."""
        ...


RATE_LIMITED = "rate limited: "
"""How ``CollectStore.record_rate_limit`` starts the error it keeps: a ``retry_at`` under an error
that starts so is a rate limit's reset, not an outage's backoff (no column of its own needed)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceState:
    """Where a (source, brand) collector stands: its cursor and its failure backoff.

    ``failures`` counts consecutive outages only; ``retry_at`` is the end of their backoff or of
    a rate limit (``rate_limited``)."""

    cursor: str | None = None
    failures: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None

    @property
    def rate_limited(self) -> bool:
        """True when the last call was refused by a rate limit (``retry_at`` is its reset)."""
        return self.last_error is not None and self.last_error.startswith(RATE_LIMITED)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportRow:
    """One mention with its latest score, for ``listener export``."""

    mention: StoredMention
    score: Score | None
    label_override: str | None = None
    """The analysts' label (an override or a label rule), which wins over the score's."""
    label_by: str | None = None
    """Who set ``label_override`` ('rule:NAME' for a rule)."""


class ScoreQueue(Protocol):
    """Mentions waiting for a score. ``Store.add_batch`` queues each new mention in the batch's
    transaction; ``Store.add_scores(done=ids)`` takes them off in the scores' transaction. Reads
    walk the queue by mention id: their cost does not depend on the mentions already scored."""

    def queued(self, *, after: int = 0, limit: int) -> list[StoredMention]:
        """Up to ``limit`` queued mentions with an id above ``after``, by id."""
        ...

    def queued_among(self, ids: Sequence[int]) -> list[StoredMention]:
        """The mentions of ``ids`` that are still queued, by id (a batch handed to a worker
        that was scored meanwhile comes back empty)."""
        ...

    def dequeue(self, ids: Sequence[int]) -> int:
        """Take ``ids`` off the queue (idempotent); returns how many were queued."""
        ...


class CollectStore(Protocol):
    """Where the collect stage stores batches and its source state."""

    def add_batch(self, source: str, query: BrandQuery, batch: Batch) -> int:
        """Store a collector's batch: its mentions (unique on (source, external_id); a mention
        already stored is a no-op), its quarantined items and its cursor, in ONE transaction, and
        clear the (source, brand) failure state. Returns the number of new mentions."""
        ...

    def source_state(self, source: str, brand: str) -> SourceState:
        """The saved state of a (source, brand) collector; defaults when never run."""
        ...

    def copies_of(
        self, source: str, brand: str, texts: Collection[str], *, since: datetime
    ) -> dict[str, str]:
        """For each of ``texts`` that a stored mention of (source, brand) created at or after
        ``since`` has exactly, and that is not a repost itself: the external id of the first
        such mention (the original of a copy)."""
        ...

    def record_failure(self, source: str, brand: str, *, retry_at: datetime, error: str) -> None:
        """Note a failed collection: failures += 1, next attempt not before ``retry_at``."""
        ...

    def record_rate_limit(self, source: str, brand: str, *, until: datetime, detail: str) -> None:
        """Note a collection refused by a rate limit: next attempt not before ``until``, the
        current error ``RATE_LIMITED + detail``; ``failures`` (the outage count) is unchanged.
        A later batch clears it like a failure."""
        ...


class ScoreStore(ScoreQueue, Protocol):
    """What the score stage reads and writes: the scoring queue, unscored mentions, scores
    with the alerts they raised, and earlier replies by the brand."""

    def unscored(self, model: str, limit: int) -> list[StoredMention]:
        """Up to ``limit`` mentions without a score from ``model``, oldest first."""
        ...

    def repost_reach(self, originals: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """For each (source, external_id): the summed reach of the stored mentions that repost
        it (``repost_of``); originals without reposts are left out."""
        ...

    def add_scores(
        self, scores: Sequence[Score], alerts: Sequence[NewAlert] = (), *, done: Sequence[int] = ()
    ) -> int:
        """Store scores and the alerts they caused in ONE transaction, and take the mention ids
        ``done`` off the scoring queue in it. A (mention, model) score that exists is kept; an
        alert whose dedupe_key exists is a no-op. Returns scores added."""
        ...

    def first_reply(
        self, source: str, external_id: str, *, authors: Collection[str]
    ) -> StoredMention | None:
        """The earliest stored reply to (source, external_id) by one of ``authors`` (bare
        account names, no '@'; compared case-insensitively), if any."""
        ...


class MentionReader(Protocol):
    """Stored mentions by id, identity, brand and time (dispatch, CLI)."""

    def mentions(self, ids: Sequence[int]) -> list[StoredMention]:
        """The stored mentions with these ids (missing ids are skipped), in id order."""
        ...

    def find_mention(self, source: str, external_id: str) -> StoredMention | None:
        """The mention with that identity, if stored."""
        ...

    def iter_mentions(
        self, *, brand: str | None = None, since: datetime | None = None, raw: bool = True
    ) -> Iterator[StoredMention]:
        """Stored mentions (of one brand, created at or after ``since``) by creation time;
        ``raw=False`` leaves their raw payloads unread (empty)."""
        ...


class ScoreReader(Protocol):
    """Scores as stored (the CLI's export; dispatch, for alerts written before alerts recorded
    their score)."""

    def latest_scores(self, mention_ids: Sequence[int]) -> dict[int, Score]:
        """The most recent score of each mention that has one."""
        ...

    def export(self, *, brand: str, since: datetime | None = None) -> Iterator[ExportRow]:
        """One row per mention of ``brand`` (created at/after ``since``), with its latest score."""
        ...


class TrendReader(Protocol):
    """Per-bucket volumes and labels (the spike stage, trends)."""

    def trend(
        self, *, brand: str, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TrendPoint]:
        """Per-bucket volume and label counts (latest score per mention) over [since, until)."""
        ...


class StoreStats(Protocol):
    """Row counts for summaries and health."""

    def counts(self) -> dict[str, int]:
        """Row counts: mentions, scores, quarantined, alerts (for summaries and health)."""
        ...


class Store(
    CollectStore, ScoreStore, MentionReader, ScoreReader, TrendReader, StoreStats, Protocol
):
    """Every storage role at once (SqlStore, MemoryStore): mentions, cursors, scores and
    trends. Every write method is one transaction. Code takes the role it needs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """One delivery attempt of one alert, given by ``Outbox.claim``."""

    alert_id: int
    until: datetime
    """The lease end, also the attempt's id: each later claim of the row ends later."""
    in_doubt: bool = False
    """An earlier attempt got no answer (timeout, crash): it may be posted; check first."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Storm:
    """A brand's pending mention alerts, summed up for one digest."""

    brand: str
    count: int
    first_id: int
    first_at: datetime
    last_at: datetime
    examples: Sequence[int]
    """Mention ids of the top alerts by reach × anger, best first."""
    by_source: Mapping[str, int]


class ReplyRecorder(Protocol):
    """Where the collect and score stages record a brand's reply as a first response."""

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        """The brand's own account replied to mention (source, external_id): record it as the
        first response (acked_at/acked_by) on its alerts that have none yet.

        Returns the number of alerts updated."""
        ...


class AlertWriter(Protocol):
    """Where rules outside the score transaction (spikes) write alerts."""

    def add_alerts(self, alerts: Sequence[NewAlert]) -> int:
        """Insert alerts; an existing dedupe_key is a no-op. Returns the number inserted."""
        ...


class DeliveryOutbox(Protocol):
    """What the dispatch stage needs: due rows, claims and their outcomes, storm control."""

    def due(self, now: datetime, limit: int, *, ids: Sequence[int] | None = None) -> list[Alert]:
        """Pending alerts whose next attempt is due at ``now``, oldest first (only those of
        ``ids`` when given: a dispatch task's batch)."""
        ...

    def claim(self, alert_id: int, *, now: datetime, lease: timedelta) -> Claim | None:
        """Give a due row to one caller (status 'sending' until ``now + lease``): the Claim if
        won, None if the row is not due or another caller got it. A row left 'sending' by an
        earlier attempt (lease over: a crash, or ``mark_uncertain``) is claimed ``in_doubt``."""
        ...

    def mark_sent(self, claim: Claim, at: datetime, *, error: str | None = None) -> bool:
        """Record delivery; the alert is never sent again. Like every ``mark_*``, applies only
        while ``claim`` is the row's latest attempt; returns whether it did. ``error``: why part
        of its route did not get it (a partly delivered alert), kept as ``last_error``."""
        ...

    def mark_delivered(self, claim: Claim, notifier: str) -> bool:
        """One notifier of several delivered the alert: add ``notifier`` to
        ``details['delivered_to']`` (while ``claim`` is the latest attempt), so later attempts
        go to the others only."""
        ...

    def mark_not_delivered(self, claim: Claim, notifier: str, *, error: str) -> bool:
        """One notifier of several refused the alert for good (or was given up on): set
        ``details['not_delivered'][notifier]`` to ``error`` (while ``claim`` is the latest
        attempt), so later attempts skip it while the others still get the alert."""
        ...

    def mark_retry(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        """Not delivered: attempts += 1; back to pending, try again at ``next_attempt_at``."""
        ...

    def mark_uncertain(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        """Outcome unknown: attempts += 1; the row stays 'sending' (in doubt) until
        ``next_attempt_at``, when its next claim says ``in_doubt``."""
        ...

    def mark_failed(self, claim: Claim, *, error: str) -> bool:
        """attempts += 1; status failed with the reason; never tried again."""
        ...

    def storm_pending(self, now: datetime) -> dict[str, int]:
        """Per brand: pending mention alerts due at ``now`` (storm control's input)."""
        ...

    def defer_storm(self, brand: str, *, now: datetime, until: datetime) -> int:
        """Postpone the brand's due pending mention alerts to ``until``; no attempt counted.
        Returns the number postponed."""
        ...

    def fold_storm(
        self, brand: str, *, now: datetime, examples: int, digest: Callable[[Storm], NewAlert]
    ) -> Alert | None:
        """In ONE transaction: fold EVERY pending mention alert of ``brand`` (however many)
        into one pending digest alert built by ``digest`` from their summary, and return it;
        None when none was pending (another dispatcher folded or sent them)."""
        ...

    def storm_state(self, brand: str, *, since: datetime) -> tuple[int, datetime | None]:
        """(mention alerts of ``brand`` sent or digested since ``since``, last digest time)."""
        ...


class AlertDesk(Protocol):
    """What people do with alerts (CLI): list them, acknowledge them."""

    def list(
        self,
        *,
        status: AlertStatus | None = None,
        brand: str | None = None,
        since: datetime | None = None,
    ) -> list[Alert]:
        """Alerts, newest first, filtered."""
        ...

    def ack(self, alert_id: int, *, by: str, at: datetime) -> Alert:
        """Record who handled the alert and when (first response); ListenerError if unknown."""
        ...


class Outbox(ReplyRecorder, AlertWriter, DeliveryOutbox, AlertDesk, Protocol):
    """The alert outbox, every role at once (SqlOutbox, MemoryOutbox). Delivery state lives
    here so a crash never loses or repeats an alert."""
