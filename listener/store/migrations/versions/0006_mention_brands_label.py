"""mention_brands (brand, label, created_at): a brand's latest negative mentions (the
dashboard's list, complaint-driver examples) in one index range

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mention_brands_brand_label_created_at",
        "mention_brands",
        ["brand", "label", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_mention_brands_brand_label_created_at", table_name="mention_brands")
