"""Reposts: retweets, crossposts and exact copies count toward the original, not as new alerts.

A collector marks what the platform says is a repost (X ``referenced_tweets`` of type
``retweeted``, Reddit ``crosspost_parent``) in ``Mention.repost_of``. The collect stage marks
exact copies too: a post whose text (at least ``MIN_COPY_LENGTH`` characters) is exactly the
text of a mention of the same brand and source stored in the last ``COPY_WINDOW`` (or earlier
in the same batch) is a copy of that one. Reposts are stored like any mention (so they are
collected once, scored and counted in trends) but never alert (``rules.judge_mention``); when
the original is judged, the reach of its reposts stored by then is added to its own.

Over the ports only: the store answers ``copies_of`` and ``repost_reach``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from listener.domain import Batch, Mention, StoredMention
from listener.ports import CollectStore, ScoreStore

MIN_COPY_LENGTH = 30
"""Shorter texts ("+1", "@AuroraAir ??") are said independently too often to be copies."""
COPY_WINDOW = timedelta(days=1)
"""How far back a copy's original is looked for."""


def mark_copies(store: CollectStore, source: str, brand: str, batch: Batch, now: datetime) -> Batch:
    """``batch`` with each exact copy's ``repost_of`` set to its original's external id."""
    candidates = [
        m for m in batch.mentions if m.repost_of is None and len(m.text.strip()) >= MIN_COPY_LENGTH
    ]
    if not candidates:
        return batch
    first = store.copies_of(source, brand, {m.text for m in candidates}, since=now - COPY_WINDOW)
    marked: dict[int, Mention] = {}
    for m in sorted(candidates, key=lambda m: (m.created_at, m.external_id)):
        original = first.get(m.text)
        if original is not None and original != m.external_id:
            marked[id(m)] = replace(m, repost_of=original)
        else:
            first.setdefault(m.text, m.external_id)  # the first of the batch is the original
    if not marked:
        return batch
    return replace(batch, mentions=[marked.get(id(m), m) for m in batch.mentions])


def with_repost_reach(store: ScoreStore, pending: Sequence[StoredMention]) -> list[StoredMention]:
    """``pending`` with each original's reach raised by the reach of its stored reposts."""
    originals = [
        (p.mention.source, p.mention.external_id) for p in pending if not p.mention.repost_of
    ]
    extra = store.repost_reach(originals) if originals else {}
    out = []
    for p in pending:
        added = extra.get((p.mention.source, p.mention.external_id), 0)
        if added:
            p = replace(p, mention=replace(p.mention, author_reach=p.mention.author_reach + added))
        out.append(p)
    return out
