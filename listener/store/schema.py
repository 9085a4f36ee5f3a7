"""The one schema, for SQLite and PostgreSQL (SQLAlchemy Core tables).

Changes to it go with an Alembic migration in ``listener/store/migrations/versions``; a test
checks that the migrations produce exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB


class UtcDateTime(TypeDecorator[datetime]):
    """Stores tz-aware datetimes as UTC and always returns them tz-aware UTC (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = BigInteger().with_variant(Integer(), "sqlite")
Json: Any = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

mentions = Table(
    "mentions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("brand", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("author_reach", BigInteger, nullable=False, default=0),
    Column("engagement", BigInteger, nullable=False, default=0),
    Column("url", Text, nullable=False, default=""),
    Column("lang", String(16)),
    Column("in_reply_to", String(128)),
    Column("repost_of", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("raw", Json, nullable=False),
    UniqueConstraint("source", "external_id"),
    Index("ix_mentions_brand_created_at", "brand", "created_at"),
    Index("ix_mentions_source_in_reply_to", "source", "in_reply_to"),
    Index("ix_mentions_source_repost_of", "source", "repost_of"),
)

scores = Table(
    "scores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mention_id", Id, ForeignKey("mentions.id", ondelete="CASCADE"), nullable=False),
    Column("model", String(300), nullable=False),
    Column("label", String(16), nullable=False),
    Column("negative", Float, nullable=False),
    Column("neutral", Float, nullable=False),
    Column("positive", Float, nullable=False),
    Column("anger", Float, nullable=False),
    Column("lang", String(16)),
    Column("scored_at", UtcDateTime, nullable=False),
    UniqueConstraint("mention_id", "model"),
    Index("ix_scores_model_mention_id", "model", "mention_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("brand", String(200), primary_key=True),
    Column("query", Text, nullable=False),
    Column("cursor", Text),
    Column("failures", Integer, nullable=False, default=0),
    Column("retry_at", UtcDateTime),
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    # for `listener status`: last_error is cleared by a success, last_failure is kept
    Column("last_success_at", UtcDateTime),
    Column("last_failure_at", UtcDateTime),
    Column("last_failure", Text),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("brand", String(200), nullable=False),
    Column("location", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("brand", String(200), nullable=False),
    Column("dedupe_key", String(300), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="pending"),
    Column("reason", Text, nullable=False),
    Column("mention_id", Id, ForeignKey("mentions.id", ondelete="SET NULL")),
    Column("details", Json, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("last_error", Text),
    Column("acked_at", UtcDateTime),
    Column("acked_by", String(200)),
    Column("digest_id", Id),
    Index("ix_alerts_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_alerts_brand_created_at", "brand", "created_at"),
)

# -- analysts: brands per mention, label corrections, rollups (migration 0003) -----------------

mention_brands = Table(
    "mention_brands",
    metadata,
    Column("mention_id", Id, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
    Column("brand", String(200), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("lang", String(16)),
    Column("label", String(16)),
    Column("anger", Float),
    Index("ix_mention_brands_brand_created_at", "brand", "created_at"),
    Index("ix_mention_brands_brand_label_created_at", "brand", "label", "created_at"),
)
"""Every brand a mention belongs to (a post comparing two airlines counts for both);
``mentions.brand`` keeps the brand it was first collected for. ``lang``, ``label`` and
``anger`` repeat the mention's effective values (kept with the rollups) so that a brand's
latest negative mentions are one index scan."""

label_rules = Table(
    "label_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("brand", String(200)),
    Column("query", Text, nullable=False),
    Column("label", String(16), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("enabled", Integer, nullable=False, default=1),
)
"""Set the label of mentions matching a query (listener's query language); brand None: all."""

label_overrides = Table(
    "label_overrides",
    metadata,
    Column("mention_id", Id, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(16), nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("rule_id", Id, ForeignKey("label_rules.id", ondelete="CASCADE")),
)
"""The effective label of a mention when it is not the model's: an analyst's (rule_id NULL,
always wins) or a label rule's."""

trend_rollups = Table(
    "trend_rollups",
    metadata,
    Column("brand", String(200), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("lang", String(16), primary_key=True),
    Column("volume", BigInteger, nullable=False, default=0),
    Column("negative", BigInteger, nullable=False, default=0),
    Column("neutral", BigInteger, nullable=False, default=0),
    Column("positive", BigInteger, nullable=False, default=0),
    Column("angry", BigInteger, nullable=False, default=0),
    Column("anger_sum", Float, nullable=False, default=0.0),
    Column("reach", BigInteger, nullable=False, default=0),
    Column("alerts", BigInteger, nullable=False, default=0),
    Column("responded", BigInteger, nullable=False, default=0),
    Column("response_seconds", Float, nullable=False, default=0.0),
)
"""Per (brand, UTC hour since the epoch, source, language ('' unknown)): the measures of the
mentions created in that hour (effective labels) and of the alerts raised in it."""

brand_hours = Table(
    "brand_hours",
    metadata,
    Column("brand", String(200), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    *[
        Column(name, BigInteger, nullable=False, default=0)
        for name in ("volume", "negative", "neutral", "positive", "angry")
    ],
    Column("anger_sum", Float, nullable=False, default=0.0),
    Column("reach", BigInteger, nullable=False, default=0),
    Column("alerts", BigInteger, nullable=False, default=0),
    Column("responded", BigInteger, nullable=False, default=0),
    Column("response_seconds", Float, nullable=False, default=0.0),
)
"""``trend_rollups`` summed over sources and languages: what unfiltered trends read."""

term_rollups = Table(
    "term_rollups",
    metadata,
    Column("brand", String(200), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("term", String(200), primary_key=True),
    Column("mentions", BigInteger, nullable=False, default=0),
)
"""Per (brand, UTC day since the epoch, term): negative mentions that contain the term (a
word or two-word phrase); the input of complaint drivers."""

watermarks = Table(
    "watermarks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("at", UtcDateTime),
    Column("value", Text),
)
"""Where a job got to (the spike job's last window end, a report's last period, ...)."""
score_queue = Table(
    "score_queue",
    metadata,
    # mentions waiting for a score, written in the transaction that stores them and deleted in
    # the one that stores their score: the score stage claims work from here by primary key, so
    # its cost does not grow with the mentions already scored
    Column(
        "mention_id",
        Id,
        ForeignKey("mentions.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("queued_at", UtcDateTime, nullable=False),
)
