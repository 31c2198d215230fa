"""Initial schema: prescriptions, resources and their versions, idempotency, failed look-ups.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prescriptions",
        sa.Column("epu", sa.String(18), primary_key=True),
        sa.Column("prescriber_rpps", sa.String(11), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner_lab", sa.String(32)),
        sa.Column("group_task_id", sa.String(64), nullable=False),
        sa.Column("authored_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rounds_total", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_prescriptions_prescriber_updated", "prescriptions", ["prescriber_rpps", "last_updated"]
    )
    op.create_index("ix_prescriptions_last_updated", "prescriptions", ["last_updated"])
    op.create_table(
        "idempotency_records",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("epu", sa.String(18), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "resources",
        sa.Column("resource_type", sa.String(40), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("epu", sa.String(18), nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_resources_epu_type", "resources", ["epu", "resource_type"])
    op.create_index("ix_resources_last_updated", "resources", ["last_updated"])
    op.create_table(
        "resource_versions",
        sa.Column("resource_type", sa.String(40), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer(), primary_key=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "failed_lookups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_failed_lookups_client_at", "failed_lookups", ["client", "at"])


def downgrade() -> None:
    for table in (
        "failed_lookups",
        "resource_versions",
        "resources",
        "idempotency_records",
        "prescriptions",
    ):
        op.drop_table(table)
