"""score_queue: the mentions waiting for a score, claimed by primary key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:00:00

Every mention stored without any score yet is queued, so a backlog left by the previous
version is scored after the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "score_queue",
        sa.Column("mention_id", Id, autoincrement=False, nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name="fk_score_queue_mention_id_mentions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name="pk_score_queue"),
    )
    # collected_at keeps the backlog's age visible (queue depth and age metrics)
    op.execute(
        "INSERT INTO score_queue (mention_id, queued_at) "
        "SELECT m.id, m.collected_at FROM mentions m "
        "WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.mention_id = m.id)"
    )


def downgrade() -> None:
    op.drop_table("score_queue")
