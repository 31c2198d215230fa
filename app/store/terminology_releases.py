"""Terminology releases in the database: store one and make it active in one transaction, and tell
which one is active."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app.store.database import orm_session
from app.store.tables import ActiveTerminology, TerminologyRelease

_SLOT = 1


class Activation(enum.Enum):
    STORED = "stored"
    """A new release: stored and now active."""
    ALREADY_ACTIVE = "already active"
    """The same url, version and content is already the active release: nothing changed."""
    REACTIVATED = "reactivated"
    """The same release was loaded before and replaced since: it is active again."""


class VersionConflict(Exception):
    """The url and version are already stored with other content."""


@dataclass(frozen=True)
class NewRelease:
    url: str
    version: str
    content_hash: str
    concept_count: int
    concepts: bytes


def store_and_activate(
    engine: Engine, release: NewRelease, moment: datetime
) -> tuple[int, Activation]:
    """(release id, what happened). The release row and the switch commit together: until then
    every reader keeps the previous release."""
    with orm_session(engine) as session:
        # Taking the pointer row first makes concurrent imports wait for each other here.
        pointer = session.execute(
            select(ActiveTerminology).where(col(ActiveTerminology.slot) == _SLOT).with_for_update()
        ).scalar_one()
        existing = session.execute(
            select(TerminologyRelease).where(
                col(TerminologyRelease.url) == release.url,
                col(TerminologyRelease.version) == release.version,
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.content_hash != release.content_hash:
                raise VersionConflict(
                    f"{release.url}|{release.version} is already stored with other content"
                )
            if pointer.release_id == existing.id:
                return _id(existing), Activation.ALREADY_ACTIVE
            release_id, activation = _id(existing), Activation.REACTIVATED
        else:
            row = TerminologyRelease(
                url=release.url,
                version=release.version,
                content_hash=release.content_hash,
                concept_count=release.concept_count,
                concepts=release.concepts,
                imported_at=moment,
            )
            session.add(row)
            session.flush()
            release_id, activation = _id(row), Activation.STORED
        session.execute(
            update(ActiveTerminology)
            .where(col(ActiveTerminology.slot) == _SLOT)
            .values(release_id=release_id, activated_at=moment)
        )
        return release_id, activation


def active_release_id(engine: Engine) -> int | None:
    """The id of the active release, None for the curated subset: one primary-key read."""
    with Session(engine) as session:
        release_id: int | None = session.execute(
            select(col(ActiveTerminology.release_id)).where(col(ActiveTerminology.slot) == _SLOT)
        ).scalar_one_or_none()
        return release_id


def read_release(engine: Engine, release_id: int) -> TerminologyRelease:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(TerminologyRelease, release_id)
        if row is None:
            raise LookupError(f"terminology release {release_id} is not stored")
        return row


def _id(row: TerminologyRelease) -> int:
    if row.id is None:
        raise RuntimeError("a stored release has no id")
    return row.id
