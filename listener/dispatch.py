"""The dispatch job: due alerts -> storm control -> Notifier.send -> sent | retry | failed.

One run, at an explicit ``now`` (the backoff schedule is computed from it, so tests drive the
clock): take the due rows, fold a brand's storm of mention alerts into one digest, then claim and
send the rest one at a time. A row is sent only after ``claim`` gave it to this run, and marked
sent right after Slack accepted it (see ``listener.store.outbox`` for the exactly-once argument).

Failures: ``NotifyPermanent`` marks the row failed with the reason and the run goes on;
``NotifyRetryable`` schedules the row at ``now + retry_after`` (Slack's Retry-After) or at an
exponential backoff, and ends the run, since Slack is unwell for everyone; after
``give_up_after`` a row that still cannot be delivered is failed with the last error.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from listener.domain import Alert, NewAlert, Sentiment, StoredMention
from listener.errors import NotifyError, NotifyPermanent, NotifyRetryable
from listener.ports import AlertMessage, Notifier, Outbox, Store
from listener.rules import BrandPolicy

log = logging.getLogger(__name__)


def backoff(attempts: int, policy: BrandPolicy) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: initial × 2^attempts, capped."""
    delay = policy.retry_initial * (2 ** min(attempts, 20))
    return min(delay, policy.retry_max)


class Dispatcher:
    """Sends due alerts; one instance per process (it remembers a Retry-After pause)."""

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

    @property
    def policies(self) -> Mapping[str, BrandPolicy]:
        """The configured brands' policies, by brand name."""
        return self._policies

    def policy(self, brand: str) -> BrandPolicy:
        """The brand's policy, or the ``[alerts]`` defaults for a brand not configured."""
        return self._policies.get(brand) or self._default

    def run(self, now: datetime) -> dict[str, int]:
        """One dispatch pass; returns counts: sent, retried, failed, digested, deferred."""
        counts: Counter[str] = Counter(sent=0, retried=0, failed=0, digested=0, deferred=0)
        if self._paused_until is not None and now < self._paused_until:
            counts["paused"] = 1
            return dict(counts)
        self._paused_until = None
        due = self._outbox.due(now, self._batch_size)
        outgoing = self._storm_control(due, now, counts)
        mention_ids = [a.mention_id for a in outgoing if a.mention_id is not None]
        mentions = {m.id: m for m in self._store.mentions(mention_ids)} if mention_ids else {}
        scores = self._store.latest_scores(mention_ids) if mention_ids else {}
        for alert in outgoing:
            if not self._outbox.claim(alert.id, now=now, lease=self._lease):
                continue
            sentiment: Sentiment | None = None
            if alert.mention_id is not None and alert.mention_id in scores:
                sentiment = scores[alert.mention_id].sentiment
            message = AlertMessage(
                alert=alert,
                mention=mentions.get(alert.mention_id) if alert.mention_id is not None else None,
                sentiment=sentiment,
                channel=self.policy(alert.brand).channel,
                examples=self._examples(alert),
                command_prefix=self._command_prefix,
            )
            if not self._send(alert, message, now, counts):
                break
        return dict(counts)

    def _send(
        self, alert: Alert, message: AlertMessage, now: datetime, counts: Counter[str]
    ) -> bool:
        """Send one claimed alert and record the outcome; False when the run should stop."""
        try:
            self._notifier.send(message)
        except NotifyPermanent as exc:
            self._outbox.mark_failed(alert.id, error=str(exc))
            counts["failed"] += 1
            log.warning("alert %s failed for good: %s", alert.id, exc)
            return True
        except NotifyError as exc:
            retry_after = exc.retry_after if isinstance(exc, NotifyRetryable) else None
            policy = self.policy(alert.brand)
            if now - alert.created_at >= policy.give_up_after:
                self._outbox.mark_failed(alert.id, error=f"gave up after retrying: {exc}")
                counts["failed"] += 1
                return False
            if retry_after is not None:
                delay = timedelta(seconds=retry_after)
                self._paused_until = now + delay
            else:
                delay = backoff(alert.attempts, policy)
            self._outbox.mark_retry(alert.id, next_attempt_at=now + delay, error=str(exc))
            counts["retried"] += 1
            log.info("alert %s: %s; next try in %ss", alert.id, exc, delay.total_seconds())
            return False
        self._outbox.mark_sent(alert.id, now)
        counts["sent"] += 1
        return True

    def _examples(self, alert: Alert) -> list[StoredMention]:
        if alert.kind != "digest":
            return []
        ids = [int(i) for i in alert.details.get("examples", [])]
        found = {m.id: m for m in self._store.mentions(ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def _storm_control(
        self, due: Sequence[Alert], now: datetime, counts: Counter[str]
    ) -> list[Alert]:
        """The alerts to send this run: a brand whose mention alerts exceed its storm threshold
        within its window gets one digest instead (at most one per digest_interval)."""
        outgoing: list[Alert] = []
        storms: dict[str, list[Alert]] = defaultdict(list)
        for alert in due:
            if alert.kind == "mention" and alert.status == "pending":
                storms[alert.brand].append(alert)
            else:
                outgoing.append(alert)
        for brand, group in storms.items():
            policy = self.policy(brand)
            recent, last_digest = self._outbox.storm_state(brand, since=now - policy.storm_window)
            if recent + len(group) <= policy.storm_threshold:
                outgoing.extend(group)
                continue
            ids = [a.id for a in group]
            if last_digest is not None and now - last_digest < policy.digest_interval:
                counts["deferred"] += self._outbox.defer(
                    ids, until=last_digest + policy.digest_interval
                )
                continue
            digest = self._outbox.fold(ids, self._digest(brand, group, recent, policy), now=now)
            if digest is not None:
                counts["digested"] += int(digest.details.get("count", len(group)))
                outgoing.append(digest)
        outgoing.sort(key=lambda a: a.id)
        return outgoing

    def _digest(
        self, brand: str, group: Sequence[Alert], recent: int, policy: BrandPolicy
    ) -> NewAlert:
        def weight(a: Alert) -> float:
            return (float(a.details.get("reach", 0)) + 1.0) * float(a.details.get("anger", 0.0))

        top = sorted(group, key=weight, reverse=True)[: policy.digest_examples]
        window = _words(policy.storm_window)
        reason = (
            f"{len(group)} angry mentions due at once"
            + (f" after {recent} alerted in the last {window}" if recent else "")
            + f" (more than {policy.storm_threshold} per {window})"
        )
        first = min(a.id for a in group)
        return NewAlert(
            kind="digest",
            brand=brand,
            dedupe_key=f"digest:{brand}:{first}",
            reason=reason,
            details={
                "count": len(group),
                "examples": [a.mention_id for a in top if a.mention_id is not None],
                "command": f"{self._command_prefix} alerts list --digest DIGEST_ID",
            },
        )


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds}s"
