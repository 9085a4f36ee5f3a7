"""The alerting facade the app wires in: the angry-mention rule, the dispatch job and the spike
job, over the ports only (no slack_sdk, no sqlalchemy here)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from listener.dispatch import Dispatcher
from listener.domain import NewAlert, Sentiment, StoredMention
from listener.errors import ListenerError
from listener.ports import Notifier, Outbox, Store
from listener.rules import BrandPolicy, mention_alert, policies_from_settings
from listener.spikes import FIRST_LOOKBACK, Explain, detect_brand_spikes
from listener.trends.explain import explain
from listener.trends.query import TrendsReader

if TYPE_CHECKING:
    from listener.config import Settings

log = logging.getLogger(__name__)


class Alerting:
    """Rules, dispatch and spike detection for every configured brand."""

    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        dispatcher: Dispatcher,
        trends: TrendsReader | None = None,
        watermarks: Watermarks | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._trends = trends
        self._watermarks = watermarks

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store,
        outbox: Outbox,
        notifier: Notifier,
        trends: TrendsReader | None = None,
        watermarks: Watermarks | None = None,
    ) -> Alerting:
        """Policies from ``[alerts]`` and each brand's overrides. The lease outlives a send
        (twice ``slack.timeout``) and gives an unanswered post 30 s more to show up in Slack
        before it is looked for there."""
        prefix = "listener"
        if settings.source_path is not None:
            prefix = f"listener --config {settings.source_path}"
        timeout = settings.slack.timeout if settings.slack is not None else timedelta(seconds=10)
        dispatcher = Dispatcher(
            store=store,
            outbox=outbox,
            notifier=notifier,
            policies=policies_from_settings(settings),
            default_policy=BrandPolicy.from_settings(settings.alerts),
            command_prefix=prefix,
            batch_size=settings.jobs.dispatch.batch_size,
            lease=2 * timeout + timedelta(seconds=30),
            explain=_explainer(trends),
        )
        return cls(
            store=store,
            outbox=outbox,
            dispatcher=dispatcher,
            trends=trends,
            watermarks=watermarks,
        )

    def policy(self, brand: str) -> BrandPolicy:
        return self._dispatcher.policy(brand)

    def mention_alert(self, mention: StoredMention, sentiment: Sentiment) -> NewAlert | None:
        """The alert for a newly scored mention, or None (stored in the score's transaction)."""
        return mention_alert(mention, sentiment, self.policy(mention.mention.brand))

    def dispatch(self, now: datetime) -> dict[str, int]:
        """Send due alerts; counts: see ``listener.dispatch.COUNTS``."""
        counts = self._dispatcher.run(now)
        if any(counts.values()):
            log.info("dispatch: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        return counts

    def detect_spikes(self, now: datetime) -> dict[str, int]:
        """Compare every window of each brand that ended since the last run (and the current
        one) with its baseline; counts: checked (brands), windows, spikes."""
        if self._trends is None:
            raise ListenerError("spike detection needs the trends reader (App wires it)")
        outbox, marks = self._outbox, self._watermarks
        checked = windows = spikes = 0
        for policy in self._dispatcher.policies.values():
            checked += 1
            name = f"spikes:{policy.brand}"
            last = marks.get(name) if marks is not None else None
            since = last if last is not None else now - FIRST_LOOKBACK
            windows += max(1, int((now - since).total_seconds() // 3600))
            found = detect_brand_spikes(
                self._trends,
                outbox,
                policy,
                now=now,
                since=since,
                explain=_explainer(self._trends),
            )
            spikes += outbox.add_alerts(found)
            if marks is not None:  # the current hour is examined again: it is not over
                marks.set(name, now.replace(minute=0, second=0, microsecond=0))
        log.info(
            "spikes: checked %d brands, %d windows, %d new spike alerts", checked, windows, spikes
        )
        return {"checked": checked, "windows": windows, "spikes": spikes}


class Watermarks(Protocol):
    """Named timestamps: where a job got to."""

    def get(self, name: str) -> datetime | None: ...

    def set(self, name: str, at: datetime) -> None: ...


def _explainer(trends: TrendsReader | None) -> Explain | None:
    if trends is None:
        return None

    def run(brand: str, start: datetime, end: datetime) -> dict[str, Any]:
        return explain(trends, brand, start, end)

    return run
