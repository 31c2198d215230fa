"""Reading and writing FHIR resources as stored JSON, with every version kept for `_history`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlmodel import Session, col

from app.domain.errors import error
from app.store.tables import ResourceVersion, StoredResource


def new_ids(count: int) -> list[str]:
    """Fresh resource ids that sort in creation order (time first, then a counter, then random),
    so that a prescription's lines come back in the order they were written."""
    prefix = f"{time.time_ns() // 1000:014x}"
    tail = secrets.token_hex(6)
    return [f"{prefix}{index:04x}{tail}" for index in range(count)]


def instant(moment: datetime) -> str:
    """A UTC datetime as a FHIR instant."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp(resource: dict[str, Any], version_id: int, moment: datetime) -> None:
    meta = resource.setdefault("meta", {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = instant(moment)


def insert_resource(
    session: Session, resource: dict[str, Any], epu: str, moment: datetime
) -> StoredResource:
    """Store a new resource (version 1). `resource` must carry its id."""
    stamp(resource, 1, moment)
    body = orjson.dumps(resource)
    row = StoredResource(
        resource_type=resource["resourceType"],
        id=resource["id"],
        version_id=1,
        last_updated=moment,
        epu=epu,
        status=resource.get("status"),
        body=body,
    )
    session.add(row)
    session.add(
        ResourceVersion(
            resource_type=row.resource_type, id=row.id, version_id=1, last_updated=moment, body=body
        )
    )
    return row


def replace_resource(
    session: Session, resource: dict[str, Any], seen_version: int, moment: datetime
) -> int:
    """Store a new version of `resource` if nobody stored one since `seen_version` (else 412).

    The version check and the write are one UPDATE, so two writers racing cannot both win."""
    new_version = seen_version + 1
    stamp(resource, new_version, moment)
    body = orjson.dumps(resource)
    result = session.execute(
        update(StoredResource)
        .where(
            col(StoredResource.resource_type) == resource["resourceType"],
            col(StoredResource.id) == resource["id"],
            col(StoredResource.version_id) == seen_version,
        )
        .values(
            version_id=new_version, last_updated=moment, status=resource.get("status"), body=body
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise error(
            412,
            "VERSION_CONFLICT",
            f"{resource['resourceType']}/{resource['id']} changed since version {seen_version}: "
            "read it again and retry.",
            issue_type="conflict",
        )
    session.add(
        ResourceVersion(
            resource_type=resource["resourceType"],
            id=resource["id"],
            version_id=new_version,
            last_updated=moment,
            body=body,
        )
    )
    return new_version


def current(session: Session, resource_type: str, resource_id: str) -> StoredResource | None:
    return session.get(StoredResource, (resource_type, resource_id))


def of_prescription(
    session: Session, epu: str, resource_types: Sequence[str]
) -> list[StoredResource]:
    """The current resources of one prescription, of the given types, in creation order."""
    statement = (
        select(StoredResource)
        .where(
            col(StoredResource.epu) == epu,
            col(StoredResource.resource_type).in_(resource_types),
        )
        .order_by(col(StoredResource.id))
    )
    return list(session.execute(statement).scalars())


def versions(session: Session, resource_type: str, resource_id: str) -> list[ResourceVersion]:
    """Every version of a resource, newest first."""
    statement = (
        select(ResourceVersion)
        .where(
            col(ResourceVersion.resource_type) == resource_type,
            col(ResourceVersion.id) == resource_id,
        )
        .order_by(col(ResourceVersion.version_id).desc())
    )
    return list(session.execute(statement).scalars())


def loads(row: StoredResource | ResourceVersion) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(row.body)
    return parsed
