"""Imported terminology releases, and the row naming the active one.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminology_releases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(400), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("concept_count", sa.Integer(), nullable=False),
        sa.Column("concepts", sa.LargeBinary(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("url", "version", name="uq_terminology_releases_url_version"),
    )
    active = op.create_table(
        "terminology_active",
        sa.Column("slot", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("terminology_releases.id")),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
    )
    # The row exists from the start, so activating a release is always an UPDATE, which
    # concurrent imports serialise on, never a racy first INSERT.
    op.bulk_insert(active, [{"slot": 1, "release_id": None, "activated_at": None}])


def downgrade() -> None:
    op.drop_table("terminology_active")
    op.drop_table("terminology_releases")
