"""The alerting facade the app wires in: the angry-mention rule, the dispatch job and the spike
job, over the ports only (no slack_sdk, no sqlalchemy here)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from listener.dispatch import Dispatcher
from listener.domain import NewAlert, Sentiment, StoredMention
from listener.ports import Notifier, Outbox, Store
from listener.rules import BrandPolicy, mention_alert, policies_from_settings
from listener.spikes import detect_brand_spikes

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

    def __init__(self, *, store: Store, outbox: Outbox, dispatcher: Dispatcher) -> None:
        self._store = store
        self._outbox = outbox
        self._dispatcher = dispatcher

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier],
        policies: Mapping[str, BrandPolicy] | None = None,
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
        )
        return cls(store=store, outbox=outbox, dispatcher=dispatcher)

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
        """Compare each brand's last window to its baseline; counts: checked, spikes."""
        outbox = self._outbox
        checked = spikes = 0
        for policy in self._dispatcher.policies.values():
            checked += 1
            spikes += outbox.add_alerts(detect_brand_spikes(self._store, outbox, policy, now))
        log.info("spikes: checked %d brands, %d new spike alerts", checked, spikes)
        return {"checked": checked, "spikes": spikes}
