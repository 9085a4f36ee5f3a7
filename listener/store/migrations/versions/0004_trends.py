"""analysts: mention_brands (a mention of several brands), label rules and overrides, trend,
brand-hour and term rollups, watermarks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:00:00

Existing mentions keep their brand: each gets its mention_brands row. The rollups are built by
the first ``listener db upgrade`` / ``once`` / ``run`` after this migration (the 'rollups'
watermark says they are stale), or by ``listener rollups rebuild``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mention_brands",
        sa.Column("mention_id", _ID, nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("label", sa.String(length=16), nullable=True),
        sa.Column("anger", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_mention_brands_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", "brand", name=op.f("pk_mention_brands")),
    )
    op.create_index("ix_mention_brands_brand_created_at", "mention_brands", ["brand", "created_at"])
    op.execute(
        "INSERT INTO mention_brands (mention_id, brand, created_at, source, lang) "
        "SELECT id, brand, created_at, source, lang FROM mentions"
    )
    op.create_table(
        "label_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_label_rules_name")),
    )
    op.create_table(
        "label_overrides",
        sa.Column("mention_id", _ID, nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_label_overrides_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["label_rules.id"],
            name=op.f("fk_label_overrides_rule_id_label_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_label_overrides")),
    )
    op.create_table(
        "trend_rollups",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("volume", "negative", "neutral", "positive", "angry")
        ],
        sa.Column("anger_sum", sa.Float(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("alerts", sa.BigInteger(), nullable=False),
        sa.Column("responded", sa.BigInteger(), nullable=False),
        sa.Column("response_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "hour", "source", "lang", name=op.f("pk_trend_rollups")),
    )
    op.create_table(
        "brand_hours",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("volume", "negative", "neutral", "positive", "angry")
        ],
        sa.Column("anger_sum", sa.Float(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("alerts", sa.BigInteger(), nullable=False),
        sa.Column("responded", sa.BigInteger(), nullable=False),
        sa.Column("response_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "hour", name=op.f("pk_brand_hours")),
    )
    op.create_table(
        "term_rollups",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("mentions", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "day", "term", name=op.f("pk_term_rollups")),
    )
    op.create_table(
        "watermarks",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_watermarks")),
    )
    op.execute("INSERT INTO watermarks (name, value) VALUES ('rollups', 'stale')")


def downgrade() -> None:
    for table in (
        "watermarks",
        "term_rollups",
        "brand_hours",
        "trend_rollups",
        "label_overrides",
        "label_rules",
    ):
        op.drop_table(table)
    op.drop_index("ix_mention_brands_brand_created_at", table_name="mention_brands")
    op.drop_table("mention_brands")
