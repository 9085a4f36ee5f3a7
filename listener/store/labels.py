"""Analysts' label corrections: overrides of one mention and label rules over a query.

An override (``label_overrides`` row without a rule) always wins; a rule's label is stored as an
override row carrying its ``rule_id`` and is replaced by an analyst's. Rules are evaluated with
the brand query language (``listener.query.matches``) on the text and language: on mentions as
they are scored (``apply_rules_in``, inside ``add_scores``' transaction) and on stored ones on
request (``SqlLabels.apply_rules``). Rollups follow in the same transaction, and so does the
withdrawal of the queued alerts of mentions no longer negative (``listener.store.withdrawals``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, and_, delete, select
from sqlalchemy.exc import IntegrityError

from listener.domain import LABELS, Label, utcnow
from listener.errors import ConfigError, ListenerError
from listener.query import Node, matches, parse
from listener.store.dialect import insert_for
from listener.store.rollups import CHUNK, Tracker, lock
from listener.store.schema import label_overrides, label_rules, mention_brands, mentions
from listener.store.withdrawals import withdraw_relabelled
from listener.trends.query import MentionRow


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelRule:
    id: int
    name: str
    brand: str | None
    query: str
    label: Label
    created_by: str
    created_at: datetime
    enabled: bool


def check_label(label: str) -> Label:
    if label not in LABELS:
        raise ConfigError(f"label: expected one of {', '.join(LABELS)}, got {label!r}")
    return cast(Label, label)


def _rules(conn: Connection) -> list[tuple[LabelRule, Node]]:
    rows = conn.execute(
        select(label_rules).where(label_rules.c.enabled == 1).order_by(label_rules.c.id)
    )
    out = []
    for row in rows:
        rule = _rule(row)
        out.append((rule, parse(rule.query, brand=rule.brand or rule.name)))
    return out


def _rule(row: Any) -> LabelRule:
    m = row._mapping
    return LabelRule(
        id=m["id"],
        name=m["name"],
        brand=m["brand"],
        query=m["query"],
        label=m["label"],
        created_by=m["created_by"],
        created_at=m["created_at"],
        enabled=bool(m["enabled"]),
    )


def apply_rules_in(conn: Connection, mention_ids: Iterable[int], *, at: datetime) -> int:
    """Inside the caller's transaction (rollups tracked by the caller): set the rule label of
    each of ``mention_ids`` that an enabled rule matches (the first by id), unless an analyst
    overrode it; drop rule labels no rule matches any more. Returns the mentions labelled."""
    rules = _rules(conn)
    ids = sorted(set(mention_ids))
    labelled = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        texts = conn.execute(
            select(mentions.c.id, mentions.c.text, mentions.c.lang).where(mentions.c.id.in_(chunk))
        ).all()
        brands: dict[int, set[str]] = {}
        for mid, brand in conn.execute(
            select(mention_brands.c.mention_id, mention_brands.c.brand).where(
                mention_brands.c.mention_id.in_(chunk)
            )
        ):
            brands.setdefault(mid, set()).add(brand)
        manual = set(
            conn.execute(
                select(label_overrides.c.mention_id).where(
                    label_overrides.c.mention_id.in_(chunk), label_overrides.c.rule_id.is_(None)
                )
            ).scalars()
        )
        rows, unmatched = [], []
        for mid, text, lang in texts:
            if mid in manual:
                continue
            hit = next(
                (
                    r
                    for r, node in rules
                    if (r.brand is None or r.brand in brands.get(mid, ()))
                    and matches(node, text, lang)
                ),
                None,
            )
            if hit is None:
                unmatched.append(mid)
                continue
            rows.append(
                {
                    "mention_id": mid,
                    "label": hit.label,
                    "by": f"rule:{hit.name}",
                    "at": at,
                    "rule_id": hit.id,
                }
            )
        if unmatched:
            conn.execute(
                delete(label_overrides).where(
                    label_overrides.c.mention_id.in_(unmatched),
                    label_overrides.c.rule_id.is_not(None),
                )
            )
        if rows:
            stmt = insert_for(conn, label_overrides)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["mention_id"],
                    set_={k: stmt.excluded[k] for k in ("label", "by", "at", "rule_id")},
                    where=label_overrides.c.rule_id.is_not(None),
                ),
                rows,
            )
            labelled += len(rows)
    return labelled


class SqlLabels:
    """Overrides and label rules over a SQLAlchemy Engine (also a ``LabelWriter``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def override(self, mention_id: int, label: Label, *, by: str, at: datetime) -> MentionRow:
        check_label(label)
        with self.engine.begin() as conn:
            lock(conn)
            self._exists(conn, mention_id)
            tracker = Tracker(conn, mention_ids=[mention_id])
            row = {"mention_id": mention_id, "label": label, "by": by, "at": at, "rule_id": None}
            stmt = insert_for(conn, label_overrides)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["mention_id"],
                    set_={k: stmt.excluded[k] for k in ("label", "by", "at", "rule_id")},
                ),
                row,
            )
            tracker.finish()
            withdraw_relabelled(conn, [mention_id], at=at)
        return self._row(mention_id)

    def clear_override(self, mention_id: int) -> MentionRow:
        with self.engine.begin() as conn:
            lock(conn)
            self._exists(conn, mention_id)
            tracker = Tracker(conn, mention_ids=[mention_id])
            conn.execute(
                delete(label_overrides).where(
                    label_overrides.c.mention_id == mention_id,
                    label_overrides.c.rule_id.is_(None),
                )
            )
            now = utcnow()
            apply_rules_in(conn, [mention_id], at=now)
            tracker.finish()
            withdraw_relabelled(conn, [mention_id], at=now)  # a rule's label may apply again
        return self._row(mention_id)

    def _exists(self, conn: Connection, mention_id: int) -> None:
        found = conn.execute(select(mentions.c.id).where(mentions.c.id == mention_id)).first()
        if found is None:
            raise ListenerError(f"no mention with id {mention_id} (ids: listener export)")

    def _row(self, mention_id: int) -> MentionRow:
        from listener.store.trends import mention_rows

        with self.engine.connect() as conn:
            return mention_rows(conn, [mention_id])[0]

    # -- rules ---------------------------------------------------------------------------------

    def add_rule(
        self, *, name: str, query: str, label: str, brand: str | None, by: str, at: datetime
    ) -> LabelRule:
        """A new enabled rule (applies to mentions scored from now on; ``apply_rules`` for
        the stored ones). ConfigError for a bad query or label, ListenerError for a taken name."""
        check_label(label)
        if not name.strip():
            raise ConfigError("rule name: must not be empty")
        parse(query, brand=brand or name)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    label_rules.insert().values(
                        name=name,
                        brand=brand,
                        query=query,
                        label=label,
                        created_by=by,
                        created_at=at,
                        enabled=1,
                    )
                )
        except IntegrityError:
            raise ListenerError(f"a label rule named {name!r} exists already") from None
        return next(r for r in self.rules() if r.name == name)

    def rules(self) -> list[LabelRule]:
        with self.engine.connect() as conn:
            return [_rule(r) for r in conn.execute(select(label_rules).order_by(label_rules.c.id))]

    def remove_rule(self, name: str) -> int:
        """Delete the rule and the labels it set (rollups follow); returns mentions relabelled."""
        with self.engine.begin() as conn:
            lock(conn)
            rule_id = conn.execute(
                select(label_rules.c.id).where(label_rules.c.name == name)
            ).scalar_one_or_none()
            if rule_id is None:
                raise ListenerError(f"no label rule named {name!r} (see: listener rules list)")
            ids = list(
                conn.execute(
                    select(label_overrides.c.mention_id).where(label_overrides.c.rule_id == rule_id)
                ).scalars()
            )
            tracker = Tracker(conn, mention_ids=ids)
            conn.execute(delete(label_overrides).where(label_overrides.c.rule_id == rule_id))
            conn.execute(delete(label_rules).where(label_rules.c.id == rule_id))
            now = utcnow()
            apply_rules_in(conn, ids, at=now)  # another rule may match them
            tracker.finish()
            withdraw_relabelled(conn, ids, at=now)
        return len(ids)

    def apply_rules(
        self, *, brand: str | None = None, since: datetime | None = None, batch: int = 2000
    ) -> int:
        """Apply the enabled rules to stored mentions (of ``brand``, created since ``since``),
        a batch per transaction. Returns the mentions labelled by a rule."""
        labelled, last = 0, 0
        while True:
            stmt = select(mentions.c.id).where(mentions.c.id > last)
            if brand is not None:
                stmt = stmt.where(
                    mentions.c.id.in_(
                        select(mention_brands.c.mention_id).where(mention_brands.c.brand == brand)
                    )
                )
            if since is not None:
                stmt = stmt.where(mentions.c.created_at >= since)
            with self.engine.begin() as conn:
                lock(conn)
                ids = list(conn.execute(stmt.order_by(mentions.c.id).limit(batch)).scalars())
                if not ids:
                    return labelled
                tracker = Tracker(conn, mention_ids=ids)
                now = utcnow()
                labelled += apply_rules_in(conn, ids, at=now)
                tracker.finish()
                withdraw_relabelled(conn, ids, at=now)
            last = ids[-1]

    def overrides_of(self, mention_ids: Sequence[int]) -> dict[int, tuple[Label, str]]:
        """(label, by) of the mentions among ``mention_ids`` whose label is not the model's."""
        out: dict[int, tuple[Label, str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(mention_ids), CHUNK):
                chunk = list(mention_ids[start : start + CHUNK])
                for mid, label, by in conn.execute(
                    select(
                        label_overrides.c.mention_id, label_overrides.c.label, label_overrides.c.by
                    ).where(label_overrides.c.mention_id.in_(chunk))
                ):
                    out[mid] = (label, by)
        return out


def effective_overrides(conn: Connection, mention_ids: Sequence[int]) -> dict[int, str]:
    """label of the overridden mentions among ``mention_ids`` (inside a transaction)."""
    out: dict[int, str] = {}
    for start in range(0, len(mention_ids), CHUNK):
        chunk = list(mention_ids[start : start + CHUNK])
        rows = conn.execute(
            select(label_overrides.c.mention_id, label_overrides.c.label).where(
                and_(label_overrides.c.mention_id.in_(chunk))
            )
        )
        out.update({mid: label for mid, label in rows})
    return out


__all__ = ["LabelRule", "SqlLabels", "apply_rules_in", "check_label", "effective_overrides"]
