"""The prescriber's list reads from one index: (prescriber_rpps, last_updated) now INCLUDEs the
status it filters on and the group Task id it returns, so PostgreSQL answers a page with an
index-only scan instead of visiting one table page per prescription of the prescriber (at 1M
prescriptions, most of them not in memory). SQLite has no INCLUDE; there the index is the same.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction: a plain build
holds off every write to `prescriptions` while it reads the table (1.4 s at 1M prescriptions
here, minutes at a national year's), while the other instances serve.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_prescriptions_prescriber_list",
            "prescriptions",
            ["prescriber_rpps", "last_updated"],
            postgresql_include=["status", "group_task_id"],
            postgresql_concurrently=True,
            if_not_exists=True,  # an interrupted run built it without recording the revision
        )
        op.drop_index(
            "ix_prescriptions_prescriber_updated",
            table_name="prescriptions",
            postgresql_concurrently=True,
            if_exists=True,
        )


def downgrade() -> None:
    op.create_index(
        "ix_prescriptions_prescriber_updated", "prescriptions", ["prescriber_rpps", "last_updated"]
    )
    op.drop_index("ix_prescriptions_prescriber_list", table_name="prescriptions")
