"""The alerting facade the app wires in: the angry-mention rule, the dispatch job and the spike
job, over the ports only (no slack_sdk, no sqlalchemy here)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
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


class Alerting:
    """Rules, dispatch and spike detection for every configured brand."""

    def __init__(self, *, store: Store, outbox: Outbox, dispatcher: Dispatcher) -> None:
        self._store = store
        self._outbox = outbox
        self._dispatcher = dispatcher

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: Store, outbox: Outbox, notifier: Notifier
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
        )
        return cls(store=store, outbox=outbox, dispatcher=dispatcher)

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
