"""Database tables. FHIR resources are kept as their JSON bytes; the fields searches need are
copied into indexed columns next to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class Prescription(SQLModel, table=True):
    """One EPU: who wrote it, where it stands, who holds it."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        # The prescriber's list, newest first, read from the index alone (INCLUDE: PostgreSQL).
        Index(
            "ix_prescriptions_prescriber_list",
            "prescriber_rpps",
            "last_updated",
            postgresql_include=["status", "group_task_id"],
        ),
    )

    epu: str = Field(primary_key=True, max_length=18)
    prescriber_rpps: str = Field(max_length=11)
    status: str = Field(max_length=16)
    owner_lab: str | None = Field(default=None, max_length=32)
    group_task_id: str = Field(max_length=64)
    authored_on: datetime
    expires_at: datetime
    rounds_total: int = 1
    round: int = 1
    created_at: datetime
    last_updated: datetime = Field(index=True)
    version: int = 1
    """Bumped on every change, so a reader can tell the prescription moved on."""


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a create, replayed when the same request comes again."""

    __tablename__ = "idempotency_records"

    key: str = Field(primary_key=True, max_length=400)
    """The prescriber's RPPS and their Bundle.identifier or Idempotency-Key header."""
    content_hash: str = Field(max_length=64)
    epu: str = Field(max_length=18, index=True)
    response: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class StoredResource(SQLModel, table=True):
    """The current version of a FHIR resource."""

    __tablename__ = "resources"
    __table_args__ = (Index("ix_resources_epu_type", "epu", "resource_type"),)

    resource_type: str = Field(primary_key=True, max_length=40)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int
    last_updated: datetime
    epu: str = Field(max_length=18)
    status: str | None = Field(default=None, max_length=32)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ResourceVersion(SQLModel, table=True):
    """Every superseded version of every resource, for `_history` (the current one is its
    `resources` row)."""

    __tablename__ = "resource_versions"

    resource_type: str = Field(primary_key=True, max_length=40)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int = Field(primary_key=True)
    last_updated: datetime
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class FailedLookup(SQLModel, table=True):
    """One failed EPU look-up, counted against a client (token subject or address)."""

    __tablename__ = "failed_lookups"
    __table_args__ = (Index("ix_failed_lookups_client_at", "client", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=200)
    at: datetime = Field(index=True)
    """Indexed alone too, so that pruning what left the window is cheap."""


class TerminologyRelease(SQLModel, table=True):
    """One imported release of the value set, its concepts kept whole so any instance can load it."""

    __tablename__ = "terminology_releases"
    __table_args__ = (
        UniqueConstraint("url", "version", name="uq_terminology_releases_url_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=400)
    version: str = Field(max_length=200)
    content_hash: str = Field(max_length=64)
    """sha256 of `concepts`: the same url and version must mean the same content."""
    concept_count: int
    concepts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    imported_at: datetime


class ActiveTerminology(SQLModel, table=True):
    """The one row saying which release is served; NULL means the curated subset shipped with the
    code. Switching versions is one UPDATE of this row, so readers never see a half-loaded set."""

    __tablename__ = "terminology_active"

    slot: int = Field(default=1, primary_key=True)
    release_id: int | None = Field(default=None, foreign_key="terminology_releases.id")
    activated_at: datetime | None = None
