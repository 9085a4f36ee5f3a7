"""The dispatch job: storm control -> due alerts -> Notifier.send -> sent | retry | failed.

One run, at an explicit ``now`` (the backoff schedule is computed from it, so tests drive the
clock). First storm control: a brand with more due mention alerts than its storm threshold gets
ALL its pending mention alerts folded into one digest (counted in SQL, however many), at most one
digest per ``digest_interval``. Then the due rows, oldest first, one at a time:

1. ``claim`` records the attempt before anything is posted (see ``listener.store.outbox``).
2. A claim ``in_doubt`` (an earlier attempt got no answer: a timeout, a crash after the post)
   first asks the notifier whether the alert is already there (``CheckingNotifier.delivered``):
   found -> marked sent without posting again ("recovered").
3. ``send``, to each notifier of the alert's route still owed it: accepted -> ``mark_sent``
   once all have it. ``NotifyPermanent`` (channel_not_found, a 4xx webhook, an SMTP 5xx) ->
   that notifier is never tried again for this alert (``not_delivered``, with its reason); the
   others still get it, once. The run goes on. ``NotifyUncertain`` (the request went out, no
   answer) -> the row stays in doubt until a lease from now, when step 2 checks it; the run
   goes on with the other alerts (two such answers in a row: Slack is slow for everyone, the
   run ends). ``NotifyRetryable`` (not delivered) -> pending again at ``now + Retry-After``
   (which also pauses that notifier in this dispatcher) or an exponential backoff, for the
   notifiers still owed it only; the run ends when every notifier is down.

After ``give_up_after`` the notifiers that still cannot get it are given up on.

A settled alert is 'sent' when at least one notifier of its route delivered it, the others'
reasons in ``last_error`` ("not delivered to crm: ... HTTP 404"; counted 'partial'), and
'failed' when none did. ``details`` says which: ``delivered_to`` (names) and ``not_delivered``
(name -> reason), kept for routes of several notifiers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from listener.domain import Alert, NewAlert, Sentiment, StoredMention
from listener.errors import NotifyError, NotifyPermanent, NotifyRetryable, NotifyUncertain
from listener.logs import scrub
from listener.ports import (
    AlertMessage,
    CheckingNotifier,
    Claim,
    DeliveryOutbox,
    MentionReader,
    Notifier,
    ScoreReader,
    Storm,
)
from listener.rules import BrandPolicy

log = logging.getLogger(__name__)

COUNTS = (
    "sent",
    "partial",
    "retried",
    "unanswered",
    "recovered",
    "failed",
    "digested",
    "deferred",
)
"""What ``Dispatcher.run`` counts: posted; posted to part of its route, the rest refused it for
good; not delivered, retried later; no answer (checked before any new post); found already
posted after a lost answer; failed for good; folded into a digest; held for the next digest."""
UNANSWERED_IN_A_ROW = 2
"""Unanswered posts in a row that end a run (Slack is slow for everyone, not for one alert)."""


class DispatchReads(MentionReader, ScoreReader, Protocol):
    """What dispatch reads from the store: the alerts' mentions (and, for alerts written
    before alerts recorded their score, the latest score)."""


def backoff(attempts: int, policy: BrandPolicy) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: initial × 2^attempts, capped."""
    delay = policy.retry_initial * (2 ** min(attempts, 20))
    return min(delay, policy.retry_max)


class Dispatcher:
    """Sends due alerts; one instance per process (it remembers Retry-After pauses).

    Each brand's alerts go to the notifiers its policy names (``notify``; none named: all of
    them). With several, each one's success or permanent refusal is recorded on the row
    (``mark_delivered``, ``mark_not_delivered``), so a retry goes only to those still owed it; a
    notifier that is down (retryable error, Retry-After) is left out of the rest of the run
    while the others go on.

    ``lease`` bounds one attempt: longer than a post can take (twice the client timeout and
    some), it is also how long an unanswered post is left to settle before it is looked for.
    """

    def __init__(
        self,
        *,
        store: DispatchReads,
        outbox: DeliveryOutbox,
        notifier: Notifier | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        policies: Mapping[str, BrandPolicy],
        default_policy: BrandPolicy | None = None,
        command_prefix: str = "listener",
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=60),
        explain: Callable[[str, datetime, datetime], dict[str, Any]] | None = None,
    ) -> None:
        if notifiers is None:
            if notifier is None:
                raise ValueError("Dispatcher needs a notifier or notifiers")
            notifiers = {"default": notifier}
        self._store = store
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._policies = dict(policies)
        self._default = default_policy or BrandPolicy(brand="")
        self._command_prefix = command_prefix
        self._batch_size = batch_size
        self._lease = lease
        self._paused_until: dict[str, datetime] = {}
        self._explain = explain
        """(brand, start, end) -> what drove a storm, added to its digest's details."""

    @property
    def policies(self) -> Mapping[str, BrandPolicy]:
        """The configured brands' policies, by brand name."""
        return self._policies

    def policy(self, brand: str) -> BrandPolicy:
        """The brand's policy, or the ``[alerts]`` defaults for a brand not configured."""
        return self._policies.get(brand) or self._default

    def route(self, alert: Alert) -> list[str]:
        """The notifiers ``alert`` goes to: its brand's ``notify``, else every notifier."""
        named = [n for n in self.policy(alert.brand).notify if n in self._notifiers]
        return named or list(self._notifiers)

    def run(self, now: datetime, *, ids: Sequence[int] | None = None) -> dict[str, int]:
        """One dispatch pass over the due alerts (those of ``ids`` only, when given: each is
        claimed first, so concurrent passes never send one twice); returns the ``COUNTS``."""
        counts: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        down = {n for n, until in self._paused_until.items() if now < until}
        self._paused_until = {n: self._paused_until[n] for n in down}
        if down >= set(self._notifiers):
            counts["paused"] = 1
            return dict(counts)
        stormy = self._storm_control(now, counts)
        outgoing = [
            a
            for a in self._outbox.due(now, self._batch_size, ids=ids)
            if not (a.kind == "mention" and a.status == "pending" and a.brand in stormy)
        ]  # a mention stored since its brand's storm was folded waits for the next digest
        mention_ids = [a.mention_id for a in outgoing if a.mention_id is not None]
        mentions = {m.id: m for m in self._store.mentions(mention_ids)} if mention_ids else {}
        unrecorded = [
            a.mention_id
            for a in outgoing
            if a.mention_id is not None and "sentiment" not in a.details
        ]  # alerts written before the score was recorded on the row
        scores = self._store.latest_scores(unrecorded) if unrecorded else {}
        unanswered = 0
        for alert in outgoing:
            done = {str(n) for n in alert.details.get("delivered_to", [])}
            done |= {str(n) for n in alert.details.get("not_delivered", {})}
            remaining = [n for n in self.route(alert) if n not in done]
            if remaining and all(n in down for n in remaining):
                continue  # its notifiers are down: left for a later run, no attempt counted
            claim = self._outbox.claim(alert.id, now=now, lease=self._lease)
            if claim is None:
                continue
            mention = mentions.get(alert.mention_id) if alert.mention_id is not None else None
            sentiment = recorded_sentiment(alert)
            if sentiment is None and alert.mention_id in scores:
                sentiment = scores[alert.mention_id].sentiment
            policy = self.policy(alert.brand)
            message = AlertMessage(
                alert=alert,
                mention=mention,
                sentiment=sentiment,
                channel=alert.details.get("channel") or policy.channel,
                examples=self._examples(alert),
                command_prefix=self._command_prefix,
            )
            outcome = self._deliver(claim, message, remaining, now, counts, down)
            unanswered = unanswered + 1 if outcome == "unanswered" else 0
            if outcome == "stop" or unanswered >= UNANSWERED_IN_A_ROW:
                break
            if down >= set(self._notifiers):
                break
        return dict(counts)

    def _deliver(
        self,
        claim: Claim,
        message: AlertMessage,
        remaining: list[str],
        now: datetime,
        counts: Counter[str],
        down: set[str],
    ) -> str:
        """Deliver one claimed alert to its remaining notifiers and record the outcome: 'ok',
        'unanswered' or 'stop'.

        A notifier that refuses for good is noted on the row (``not_delivered``) and never tried
        again for this alert; the others still get it, and those that failed for now are tried
        again later. When no notifier is owed the alert any more it is settled (``_settle``)."""
        alert = message.alert
        several = len(self.route(alert)) > 1
        got = [str(n) for n in alert.details.get("delivered_to", [])]
        refused = {str(k): str(v) for k, v in dict(alert.details.get("not_delivered", {})).items()}
        recovered_all = bool(remaining)
        owed: dict[str, NotifyError] = {}  # not delivered yet, worth another try
        uncertain: tuple[str, NotifyError] | None = None
        retry: tuple[str, NotifyError, bool] | None = None
        for name in remaining:
            if name in down:
                owed[name] = NotifyRetryable(f"{name} is unavailable")
                retry = retry or (name, owed[name], False)
                continue
            options = self.policy(alert.brand).options.get(name)
            own = replace(message, options=options)
            outcome, exc = self._attempt(self._notifiers[name], own, claim.in_doubt)
            if outcome in ("sent", "recovered"):
                recovered_all = recovered_all and outcome == "recovered"
                got.append(name)
                if several:
                    self._outbox.mark_delivered(claim, name)
                continue
            recovered_all = False
            assert exc is not None
            if outcome == "permanent":
                refused[name] = _why(exc)
                if several:
                    self._outbox.mark_not_delivered(claim, name, error=refused[name])
                log.warning("alert %s: %s refused it for good: %s", alert.id, name, exc)
                continue
            owed[name] = exc
            if outcome == "uncertain":
                uncertain = uncertain or (name, exc)
            else:
                down.add(name)
                retry = retry or (name, exc, outcome == "check")
        if owed and now - alert.created_at >= self.policy(alert.brand).give_up_after:
            for name, exc in owed.items():
                refused[name] = f"gave up after retrying: {_why(exc)}"
                if several:
                    self._outbox.mark_not_delivered(claim, name, error=refused[name])
            self._settle(claim, alert, now, counts, got=got, refused=refused, several=several)
            return "stop" if uncertain is not None or down >= set(self._notifiers) else "ok"
        if uncertain is not None:
            self._later(claim, alert, now, uncertain[1], counts, in_doubt=True, name=uncertain[0])
            return "unanswered"
        if retry is not None:
            self._later(claim, alert, now, retry[1], counts, in_doubt=retry[2], name=retry[0])
            return "stop" if down >= set(self._notifiers) else "ok"
        if not refused:
            self._outbox.mark_sent(claim, now)
            counts["recovered" if recovered_all else "sent"] += 1
            return "ok"
        self._settle(claim, alert, now, counts, got=got, refused=refused, several=several)
        return "ok"

    def _settle(
        self,
        claim: Claim,
        alert: Alert,
        now: datetime,
        counts: Counter[str],
        *,
        got: list[str],
        refused: Mapping[str, str],
        several: bool,
    ) -> None:
        """Close an alert that part (or all) of its route will never get: 'sent' when at least
        one notifier delivered it, with the others' reasons in ``last_error`` (counted
        'partial'); 'failed' when none did."""
        why = "; ".join(
            f"{name}: {reason}" if several else reason for name, reason in refused.items()
        )
        if got:
            self._outbox.mark_sent(claim, now, error=f"not delivered to {why}")
            counts["partial"] += 1
            log.warning("alert %s delivered to %s only; not to %s", alert.id, ", ".join(got), why)
            return
        self._outbox.mark_failed(claim, error=why)
        counts["failed"] += 1
        log.warning("alert %s failed for good: %s", alert.id, why)

    def _attempt(
        self, notifier: Notifier, message: AlertMessage, in_doubt: bool
    ) -> tuple[str, NotifyError | None]:
        """One notifier, one alert: 'sent', 'recovered' (found already delivered), 'permanent',
        'uncertain', 'retry' or 'check' (could not check an in-doubt attempt now)."""
        if in_doubt:
            try:
                found = self._already_delivered(notifier, message)
            except NotifyRetryable as exc:
                return "check", exc
            except NotifyPermanent:
                found = False  # e.g. no channel for the brand: the post below says so
            if found:
                log.info(
                    "alert %s was already delivered (its answer was lost): not sent again",
                    message.alert.id,
                )
                return "recovered", None
        try:
            notifier.send(message)
        except NotifyPermanent as exc:
            return "permanent", exc
        except NotifyUncertain as exc:
            return "uncertain", exc
        except NotifyError as exc:
            return "retry", exc
        return "sent", None

    def _already_delivered(self, notifier: Notifier, message: AlertMessage) -> bool:
        """For an alert whose last attempt got no answer: is it delivered already? Raises
        NotifyRetryable when the notifier cannot be asked now."""
        if not isinstance(notifier, CheckingNotifier):
            log.warning(
                "alert %s: an earlier attempt got no answer and this notifier cannot check; "
                "sending again (it may show twice)",
                message.alert.id,
            )
            return False
        found = notifier.delivered(message)
        if found is None:
            log.warning(
                "alert %s: an earlier attempt got no answer and it cannot be looked up; "
                "sending again (it may show twice)",
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
        name: str,
    ) -> None:
        """Schedule the next try of an alert that was not (or maybe not) delivered."""
        policy = self.policy(alert.brand)
        retry_after = exc.retry_after if isinstance(exc, NotifyRetryable) else None
        if retry_after is not None:
            delay = timedelta(seconds=retry_after)
            self._paused_until[name] = now + delay
        else:
            delay = backoff(alert.attempts, policy)
        if in_doubt:  # leave the receiver time to record a late post before it is looked for
            delay = max(delay, self._lease)
            self._outbox.mark_uncertain(claim, next_attempt_at=now + delay, error=str(exc))
            counts["unanswered" if isinstance(exc, NotifyUncertain) else "retried"] += 1
        else:
            self._outbox.mark_retry(claim, next_attempt_at=now + delay, error=str(exc))
            counts["retried"] += 1
        log.info("alert %s: %s; next try in %ss", alert.id, exc, delay.total_seconds())

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
                **drove,
            },
        )


def recorded_sentiment(alert: Alert) -> Sentiment | None:
    """The score that fired ``alert``, as recorded on the row when it was created (None for
    rows written before scores were recorded there, and for spikes and digests)."""
    found = alert.details.get("sentiment")
    if not isinstance(found, Mapping):
        return None
    try:
        probabilities = {str(k): float(v) for k, v in dict(found["probabilities"]).items()}
        lang = found.get("lang")
        return Sentiment(
            label=found["label"],
            probabilities=probabilities,
            anger=float(found["anger"]),
            lang=str(lang) if lang else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _why(exc: NotifyError) -> str:
    """What a notifier said, for the row: notifiers keep secrets out of their errors; any
    registered secret that slipped in anyway is masked."""
    return scrub(str(exc))


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds}s"
