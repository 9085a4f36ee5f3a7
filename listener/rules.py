"""Pure alert rules: is this scored mention an angry customer the team must see now?

A ``BrandPolicy`` holds one brand's thresholds (the ``[alerts]`` defaults with the brand's own
overrides applied). Every decision carries the thresholds it crossed, in words, so the Slack
message can say why it fired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from listener.domain import NewAlert, Sentiment, StoredMention

if TYPE_CHECKING:
    from listener.config import AlertSettings, BrandSettings, Settings


@dataclass(frozen=True, kw_only=True, slots=True)
class BrandPolicy:
    """One brand's alert rules and where its alerts go."""

    brand: str
    channel: str | None = None
    """Legacy destination for notifiers the brand has no section for (see AlertMessage)."""
    notify: tuple[str, ...] = ()
    """Names of the notifiers the brand's alerts go to; empty: every notifier."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The brand's section per notifier name (``[brands.NAME]``)."""
    handles: frozenset[str] = frozenset()
    """The brand's own accounts, casefolded, without '@': their posts never alert."""
    anger_threshold: float = 0.6
    negative_threshold: float = 0.6
    high_reach: int = 10_000
    high_reach_anger_threshold: float = 0.45
    high_reach_negative_threshold: float = 0.5
    storm_threshold: int = 10
    storm_window: timedelta = timedelta(minutes=10)
    digest_interval: timedelta = timedelta(minutes=2)
    digest_examples: int = 5
    max_age: timedelta = timedelta(hours=24)
    spike_window: timedelta = timedelta(hours=1)
    spike_baseline_days: int = 7
    spike_min_volume: int = 20
    spike_ratio: float = 2.0
    spike_z: float = 3.0
    spike_net_drop: float = 25.0
    spike_cooldown: timedelta = timedelta(hours=2)
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    give_up_after: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(
        cls,
        defaults: AlertSettings,
        brand: BrandSettings | None = None,
        *,
        name: str = "",
        notifiers: Mapping[str, str] | None = None,
    ) -> BrandPolicy:
        """The policy of ``brand``: ``defaults`` with the keys the brand overrides replaced;
        ``notifiers`` maps the configured notifiers' names to their kinds."""
        values: dict[str, Any] = defaults.model_dump()
        if brand is not None and brand.alerts is not None:
            values.update({k: getattr(brand.alerts, k) for k in brand.alerts.model_fields_set})
        options: dict[str, Any] = {}
        if brand is not None:
            for notifier, kind in (notifiers or {}).items():
                if (found := brand.option(notifier, kind)) is not None:
                    options[notifier] = found
        channels = [getattr(o, "channel", None) for o in (brand.options if brand else {}).values()]
        return cls(
            brand=brand.name if brand is not None else name,
            channel=next((c for c in channels if isinstance(c, str) and c), None),
            notify=tuple(brand.notify or ()) if brand is not None else (),
            options=options,
            handles=frozenset(normalize_handle(h) for h in (brand.handles if brand else ())),
            **values,
        )

    def is_own(self, author: str) -> bool:
        """True when ``author`` is one of the brand's own accounts."""
        return normalize_handle(author) in self.handles


def policies_from_settings(settings: Settings) -> dict[str, BrandPolicy]:
    """One policy per configured brand, keyed by brand name."""
    kinds = {name: section.kind for name, section in settings.notifiers().items()}
    return {
        b.name: BrandPolicy.from_settings(settings.alerts, b, notifiers=kinds)
        for b in settings.brands
    }


def normalize_handle(handle: str) -> str:
    return handle.strip().removeprefix("@").removeprefix("u/").casefold()


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """A rule's verdict: whether it fired and the thresholds it crossed (or missed)."""

    fired: bool
    reason: str
    details: Mapping[str, Any]


def judge_mention(mention: StoredMention, sentiment: Sentiment, policy: BrandPolicy) -> Decision:
    """Angry mention: P(negative) and anger both at or above their bars; authors with at least
    ``high_reach`` followers get the lower high-reach bars. The brand's own posts never fire,
    nor do mentions that were older than ``max_age`` when collected (backfills, imports)."""
    m = mention.mention
    negative = float(sentiment.probabilities.get("negative", 0.0))
    anger = sentiment.anger
    high_reach = m.author_reach >= policy.high_reach
    neg_bar = policy.high_reach_negative_threshold if high_reach else policy.negative_threshold
    anger_bar = policy.high_reach_anger_threshold if high_reach else policy.anger_threshold
    details: dict[str, Any] = {
        "negative": round(negative, 4),
        "anger": round(anger, 4),
        "reach": m.author_reach,
        "high_reach": high_reach,
        "negative_threshold": neg_bar,
        "anger_threshold": anger_bar,
    }
    if policy.is_own(m.author):
        return Decision(fired=False, reason="the brand's own account", details=details)
    if m.repost_of is not None:  # its reach is counted toward the original's (see reposts)
        reason = f"a repost of {m.source} {m.repost_of}: counted toward its reach"
        return Decision(fired=False, reason=reason, details=details)
    age = mention.collected_at - m.created_at
    if age > policy.max_age:  # a backfill or an import of history: no one can act on it now
        reason = f"already {age} old when collected (max_age {policy.max_age})"
        return Decision(fired=False, reason=reason, details=details)
    fired = negative >= neg_bar and anger >= anger_bar
    parts = [
        f"negative {negative:.2f} {'≥' if negative >= neg_bar else '<'} {neg_bar:.2f}",
        f"anger {anger:.2f} {'≥' if anger >= anger_bar else '<'} {anger_bar:.2f}",
    ]
    if high_reach:
        parts.append(f"high-reach author ({m.author_reach:,} ≥ {policy.high_reach:,} followers)")
    return Decision(fired=fired, reason="; ".join(parts), details=details)


def mention_dedupe_key(mention: StoredMention) -> str:
    """One alert per mention, ever (re-scoring with another model included)."""
    return f"mention:{mention.mention.source}:{mention.mention.external_id}"


def mention_alert(
    mention: StoredMention, sentiment: Sentiment, policy: BrandPolicy
) -> NewAlert | None:
    """The alert for ``mention`` if the angry-mention rule fires, else None."""
    decision = judge_mention(mention, sentiment, policy)
    if not decision.fired:
        return None
    return NewAlert(
        kind="mention",
        brand=mention.mention.brand,
        dedupe_key=mention_dedupe_key(mention),
        reason=decision.reason,
        mention_id=mention.id,
        details={**decision.details, "label": sentiment.label, "sentiment": recorded(sentiment)},
    )


def recorded(sentiment: Sentiment) -> dict[str, Any]:
    """The score that fired an alert, as its row keeps it: the message shows these numbers,
    whatever model scores the mention later."""
    return {
        "label": sentiment.label,
        "probabilities": {k: float(v) for k, v in sentiment.probabilities.items()},
        "anger": float(sentiment.anger),
        "lang": sentiment.lang,
    }
