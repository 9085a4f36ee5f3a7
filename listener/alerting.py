"""The alerting facade the app wires in: the angry-mention rule, the dispatch job and the spike
job, over the ports only (no slack_sdk, no sqlalchemy here)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from listener.dispatch import Dispatcher
from listener.domain import NewAlert, Sentiment, StoredMention
from listener.errors import ListenerError
from listener.ports import Notifier, Outbox, Store
from listener.rules import BrandPolicy, mention_alert, policies_from_settings
from listener.spikes import (
    FIRST_LOOKBACK,
    Explain,
    detect_brand_spikes,
    reach_back,
    window_hours,
)
from listener.trends.explain import explain
from listener.trends.query import TrendsReader

if TYPE_CHECKING:
    from listener.config import Settings

log = logging.getLogger(__name__)


def default_lease(notifiers: Iterable[Notifier]) -> timedelta:
    """Twice the slowest notifier's ``send_timeout`` (10 s when it declares none) plus 30 s."""
    timeouts = [getattr(n, "send_timeout", None) for n in notifiers]
    slowest = max((t for t in timeouts if isinstance(t, timedelta)), default=timedelta(seconds=10))
    return 2 * slowest + timedelta(seconds=30)


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
        notifiers: Mapping[str, Notifier],
        policies: Mapping[str, BrandPolicy] | None = None,
        trends: TrendsReader | None = None,
        watermarks: Watermarks | None = None,
    ) -> Alerting:
        """Policies from ``[alerts]`` and each brand's overrides. The lease is
        ``[jobs.dispatch] lease``, else it outlives the slowest notifier's send (twice its
        ``send_timeout``) and gives an unanswered post 30 s more to show up before it is
        looked for."""
        prefix = "listener"
        if settings.source_path is not None:
            prefix = f"listener --config {settings.source_path}"
        dispatcher = Dispatcher(
            store=store,
            outbox=outbox,
            notifiers=notifiers,
            policies=policies if policies is not None else policies_from_settings(settings),
            default_policy=BrandPolicy.from_settings(settings.alerts),
            command_prefix=prefix,
            batch_size=settings.jobs.dispatch.batch_size,
            lease=settings.jobs.dispatch.lease or default_lease(notifiers.values()),
            explain=_explainer(trends),
        )
        return cls(
            store=store,
            outbox=outbox,
            dispatcher=dispatcher,
            trends=trends,
            watermarks=watermarks,
        )

    @property
    def dispatcher(self) -> Dispatcher:
        return self._dispatcher

    def policy(self, brand: str) -> BrandPolicy:
        return self._dispatcher.policy(brand)

    def mention_alert(self, mention: StoredMention, sentiment: Sentiment) -> NewAlert | None:
        """The alert for a newly scored mention, or None (stored in the score's transaction)."""
        return mention_alert(mention, sentiment, self.policy(mention.mention.brand))

    def dispatch(self, now: datetime, *, ids: Sequence[int] | None = None) -> dict[str, int]:
        """Send due alerts (of ``ids`` only, if given); counts: ``listener.dispatch.COUNTS``."""
        counts = self._dispatcher.run(now, ids=ids)
        if any(counts.values()):
            log.info("dispatch: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        return counts

    def detect_spikes(self, now: datetime) -> dict[str, int]:
        """Compare every window of each brand that ended since the last run (and the current
        one) with its baseline; counts: checked (brands), windows, spikes. One read of the
        hourly rollups for every brand, one of the watermarks, one write of each."""
        if self._trends is None:
            raise ListenerError("spike detection needs the trends reader (App wires it)")
        policies = list(self._dispatcher.policies.values())
        if not policies:
            return {"checked": 0, "windows": 0, "spikes": 0}
        names = {p.brand: f"spikes:{p.brand}" for p in policies}
        marks = self._watermarks.get_many(list(names.values())) if self._watermarks else {}
        since = {p.brand: marks.get(names[p.brand]) or now - FIRST_LOOKBACK for p in policies}
        start = min(window_hours(now, since[p.brand])[0] - reach_back(p) for p in policies)
        trends = self._trends.trends(
            [p.brand for p in policies],
            since=datetime.fromtimestamp(start * 3600, UTC),
            until=now + timedelta(hours=1),
            bucket="hour",
        )
        found: list[NewAlert] = []
        windows = 0
        for policy, trend in zip(policies, trends, strict=True):
            first, last = window_hours(now, since[policy.brand])
            windows += last - first + 1
            found += detect_brand_spikes(
                trend,
                self._outbox,
                policy,
                now=now,
                since=since[policy.brand],
                explain=_explainer(self._trends),
            )
        spikes = self._outbox.add_alerts(found) if found else 0
        if self._watermarks is not None:  # the current hour is examined again: it is not over
            hour = now.replace(minute=0, second=0, microsecond=0)
            self._watermarks.set_many(dict.fromkeys(names.values(), hour))
        log.info(
            "spikes: checked %d brands, %d windows, %d new spike alerts",
            len(policies),
            windows,
            spikes,
        )
        return {"checked": len(policies), "windows": windows, "spikes": spikes}


class Watermarks(Protocol):
    """Named timestamps: where a job got to."""

    def get_many(self, names: list[str]) -> dict[str, datetime]: ...

    def set_many(self, marks: dict[str, datetime]) -> None: ...


def _explainer(trends: TrendsReader | None) -> Explain | None:
    if trends is None:
        return None

    def run(brand: str, start: datetime, end: datetime) -> dict[str, Any]:
        return explain(trends, brand, start, end)

    return run
