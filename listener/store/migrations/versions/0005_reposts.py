"""reposts: mentions.repost_of (a retweet, a crosspost or an exact copy of another mention)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a nullable column: every stored mention keeps its row and reads as "not a repost"
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repost_of", sa.String(length=128)))
        batch_op.create_index("ix_mentions_source_repost_of", ["source", "repost_of"])


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_source_repost_of")
        batch_op.drop_column("repost_of")
