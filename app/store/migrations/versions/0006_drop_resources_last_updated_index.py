"""Drop the index on `resources.last_updated`: no query reads by it (the status list and the purge
go by the prescriptions' own `last_updated`), and every resource written (two on each done, eight
on each create) paid for an entry in it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_resources_last_updated", table_name="resources")


def downgrade() -> None:
    op.create_index("ix_resources_last_updated", "resources", ["last_updated"])
