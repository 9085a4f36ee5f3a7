"""The dispatch job: storm control -> due alerts -> Notifier.send -> sent | retry | failed.

One run, at an explicit ``now`` (the backoff schedule is computed from it, so tests drive the
clock). First storm control: a brand with more due mention alerts than its storm threshold gets
ALL its pending mention alerts folded into one digest (counted in SQL, however many), at most one
digest per ``digest_interval``. Then the due rows, oldest first, one at a time:

1. ``claim`` records the attempt before anything is posted (see ``listener.store.outbox``).
2. A claim ``in_doubt`` (an earlier attempt got no answer: a timeout, a crash after the post)
   first asks the notifier whether the alert is already there (``CheckingNotifier.delivered``):
   found -> marked sent without posting again ("recovered").
3. ``send``: accepted -> ``mark_sent``. ``NotifyPermanent`` -> failed with the reason, the run
   goes on. ``NotifyUncertain`` (the request went out, no answer) -> the row stays in doubt until
   a lease from now, when step 2 checks it; the run goes on with the other alerts (two such
   answers in a row: Slack is slow for everyone, the run ends). ``NotifyRetryable`` (not
   delivered) -> pending again at ``now + Retry-After`` (which also pauses this dispatcher) or
   an exponential backoff, and the run ends, since Slack is unwell for everyone.

After ``give_up_after`` a row that still cannot be delivered is failed with the last error.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from listener.domain import Alert, NewAlert, Sentiment, StoredMention
from listener.errors import NotifyError, NotifyPermanent, NotifyRetryable, NotifyUncertain
from listener.ports import (
    AlertMessage,
    CheckingNotifier,
    Claim,
    Notifier,
    Outbox,
    Store,
    Storm,
)
from listener.rules import BrandPolicy

log = logging.getLogger(__name__)

COUNTS = ("sent", "retried", "unanswered", "recovered", "failed", "digested", "deferred")
"""What ``Dispatcher.run`` counts: posted; not delivered, retried later; no answer (checked
before any new post); found already posted after a lost answer; failed for good; folded into a
digest; held for the next digest."""
UNANSWERED_IN_A_ROW = 2
"""Unanswered posts in a row that end a run (Slack is slow for everyone, not for one alert)."""


def backoff(attempts: int, policy: BrandPolicy) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: initial × 2^attempts, capped."""
    delay = policy.retry_initial * (2 ** min(attempts, 20))
    return min(delay, policy.retry_max)


class Dispatcher:
    """Sends due alerts; one instance per process (it remembers a Retry-After pause).

    ``lease`` bounds one attempt: longer than a post can take (twice the client timeout and
    some), it is also how long an unanswered post is left to settle in Slack before it is
    looked for there.
    """

    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        notifier: Notifier,
        policies: Mapping[str, BrandPolicy],
        default_policy: BrandPolicy | None = None,
        command_prefix: str = "listener",
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=60),
        explain: Callable[[str, datetime, datetime], dict[str, Any]] | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._notifier = notifier
        self._policies = dict(policies)
        self._default = default_policy or BrandPolicy(brand="")
        self._command_prefix = command_prefix
        self._batch_size = batch_size
        self._lease = lease
        self._paused_until: datetime | None = None
        self._explain = explain
        """(brand, start, end) -> what drove a storm, added to its digest's details."""

    @property
    def policies(self) -> Mapping[str, BrandPolicy]:
        """The configured brands' policies, by brand name."""
        return self._policies

    def policy(self, brand: str) -> BrandPolicy:
        """The brand's policy, or the ``[alerts]`` defaults for a brand not configured."""
        return self._policies.get(brand) or self._default

    def run(self, now: datetime) -> dict[str, int]:
        """One dispatch pass; returns the ``COUNTS``."""
        counts: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        if self._paused_until is not None and now < self._paused_until:
            counts["paused"] = 1
            return dict(counts)
        self._paused_until = None
        stormy = self._storm_control(now, counts)
        outgoing = [
            a
            for a in self._outbox.due(now, self._batch_size)
            if not (a.kind == "mention" and a.status == "pending" and a.brand in stormy)
        ]  # a mention stored since its brand's storm was folded waits for the next digest
        mention_ids = [a.mention_id for a in outgoing if a.mention_id is not None]
        mentions = {m.id: m for m in self._store.mentions(mention_ids)} if mention_ids else {}
        scores = self._store.latest_scores(mention_ids) if mention_ids else {}
        unanswered = 0
        for alert in outgoing:
            claim = self._outbox.claim(alert.id, now=now, lease=self._lease)
            if claim is None:
                continue
            sentiment: Sentiment | None = None
            if alert.mention_id is not None and alert.mention_id in scores:
                sentiment = scores[alert.mention_id].sentiment
            message = AlertMessage(
                alert=alert,
                mention=mentions.get(alert.mention_id) if alert.mention_id is not None else None,
                sentiment=sentiment,
                channel=alert.details.get("channel") or self.policy(alert.brand).channel,
                examples=self._examples(alert),
                command_prefix=self._command_prefix,
            )
            outcome = self._deliver(claim, message, now, counts)
            unanswered = unanswered + 1 if outcome == "unanswered" else 0
            if outcome == "stop" or unanswered >= UNANSWERED_IN_A_ROW:
                break
        return dict(counts)

    def _deliver(
        self, claim: Claim, message: AlertMessage, now: datetime, counts: Counter[str]
    ) -> str:
        """Deliver one claimed alert and record the outcome: 'ok', 'unanswered' or 'stop'."""
        alert = message.alert
        if claim.in_doubt:
            try:
                found = self._already_delivered(message)
            except NotifyRetryable as exc:
                self._later(claim, alert, now, exc, counts, in_doubt=True)
                return "stop"
            except NotifyPermanent:
                found = False  # e.g. no channel for the brand: the post below says so
            if found:
                self._outbox.mark_sent(claim, now)
                counts["recovered"] += 1
                log.info(
                    "alert %s was already in Slack (its answer was lost): not posted again",
                    alert.id,
                )
                return "ok"
        try:
            self._notifier.send(message)
        except NotifyPermanent as exc:
            self._outbox.mark_failed(claim, error=str(exc))
            counts["failed"] += 1
            log.warning("alert %s failed for good: %s", alert.id, exc)
            return "ok"
        except NotifyUncertain as exc:
            gave_up = self._later(claim, alert, now, exc, counts, in_doubt=True)
            return "stop" if gave_up else "unanswered"
        except NotifyError as exc:
            self._later(claim, alert, now, exc, counts, in_doubt=False)
            return "stop"
        self._outbox.mark_sent(claim, now)
        counts["sent"] += 1
        return "ok"

    def _already_delivered(self, message: AlertMessage) -> bool:
        """For an alert whose last attempt got no answer: is it in Slack already? Raises
        NotifyRetryable when Slack cannot be asked now."""
        if not isinstance(self._notifier, CheckingNotifier):
            log.warning(
                "alert %s: an earlier attempt got no answer and this notifier cannot check; "
                "posting again (it may show twice)",
                message.alert.id,
            )
            return False
        found = self._notifier.delivered(message)
        if found is None:
            log.warning(
                "alert %s: an earlier attempt got no answer and Slack cannot be asked; "
                "posting again (it may show twice)",
                message.alert.id,
            )
        return bool(found)

    def _later(
        self,
        claim: Claim,
        alert: Alert,
        now: datetime,
        exc: NotifyError,
        counts: Counter[str],
        *,
        in_doubt: bool,
    ) -> bool:
        """Schedule the next try of an alert that was not (or maybe not) delivered; True when
        it was given up instead."""
        policy = self.policy(alert.brand)
        if now - alert.created_at >= policy.give_up_after:
            self._outbox.mark_failed(claim, error=f"gave up after retrying: {exc}")
            counts["failed"] += 1
            return True
        retry_after = exc.retry_after if isinstance(exc, NotifyRetryable) else None
        if retry_after is not None:
            delay = timedelta(seconds=retry_after)
            self._paused_until = now + delay
        else:
            delay = backoff(alert.attempts, policy)
        if in_doubt:  # leave Slack time to record a late post before it is looked for
            delay = max(delay, self._lease)
            self._outbox.mark_uncertain(claim, next_attempt_at=now + delay, error=str(exc))
            counts["unanswered" if isinstance(exc, NotifyUncertain) else "retried"] += 1
        else:
            self._outbox.mark_retry(claim, next_attempt_at=now + delay, error=str(exc))
            counts["retried"] += 1
        log.info("alert %s: %s; next try in %ss", alert.id, exc, delay.total_seconds())
        return False

    def _examples(self, alert: Alert) -> list[StoredMention]:
        if alert.kind not in ("digest", "spike"):
            return []
        ids = [int(i) for i in alert.details.get("examples", [])]
        found = {m.id: m for m in self._store.mentions(ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def _storm_control(self, now: datetime, counts: Counter[str]) -> set[str]:
        """Fold each storming brand's pending mention alerts into one digest (or hold them for
        the next one, at most one per digest_interval). Returns the storming brands."""
        stormy: set[str] = set()
        for brand, due in sorted(self._outbox.storm_pending(now).items()):
            policy = self.policy(brand)
            recent, last_digest = self._outbox.storm_state(brand, since=now - policy.storm_window)
            if recent + due <= policy.storm_threshold:
                continue
            stormy.add(brand)
            if last_digest is not None and now - last_digest < policy.digest_interval:
                until = last_digest + policy.digest_interval
                counts["deferred"] += self._outbox.defer_storm(brand, now=now, until=until)
                continue

            def build(storm: Storm, recent: int = recent, policy: BrandPolicy = policy) -> NewAlert:
                return self._digest(storm, recent, policy)

            digest = self._outbox.fold_storm(
                brand, now=now, examples=policy.digest_examples, digest=build
            )
            if digest is not None:
                counts["digested"] += int(digest.details.get("count", 0))
        return stormy

    def _digest(self, storm: Storm, recent: int, policy: BrandPolicy) -> NewAlert:
        window = _words(policy.storm_window)
        reason = (
            f"{storm.count:,} angry mentions due at once"
            + (f" after {recent:,} alerted in the last {window}" if recent else "")
            + f" (more than {policy.storm_threshold} per {window})"
        )
        drove: dict[str, Any] = {}
        if self._explain is not None:  # what the storm is about: its rising terms
            start = storm.first_at - policy.storm_window
            drove = self._explain(storm.brand, start, storm.last_at + timedelta(seconds=1))
            drove.pop("examples", None)  # the digest's examples are its top alerts
        return NewAlert(
            kind="digest",
            brand=storm.brand,
            dedupe_key=f"digest:{storm.brand}:{storm.first_id}",
            reason=reason,
            details={
                "count": storm.count,
                "examples": list(storm.examples),
                "by_source": dict(storm.by_source),
                "first_at": storm.first_at.isoformat(),
                "last_at": storm.last_at.isoformat(),
                "command": f"{self._command_prefix} alerts list --digest DIGEST_ID",
                **drove,
            },
        )


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds}s"
