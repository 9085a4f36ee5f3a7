"""source health columns on cursors: last success, last failure (for `listener status`)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns only: existing cursor rows keep their values and read as "never yet"
    with op.batch_alter_table("cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("last_failure", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("cursors", schema=None) as batch_op:
        batch_op.drop_column("last_failure")
        batch_op.drop_column("last_failure_at")
        batch_op.drop_column("last_success_at")
