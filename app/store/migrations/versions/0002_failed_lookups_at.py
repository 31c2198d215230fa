"""Index failed look-ups by time alone, for pruning those that left the rate-limit window.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_failed_lookups_at", "failed_lookups", ["at"])


def downgrade() -> None:
    op.drop_index("ix_failed_lookups_at", table_name="failed_lookups")
