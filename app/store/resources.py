"""Reading and writing FHIR resources as stored JSON, with every version kept for `_history`."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Row, Table, insert, select, update
from sqlmodel import Session, col

from app.domain.errors import error
from app.store.sql import Statement
from app.store.tables import ResourceVersion, StoredResource

_RESOURCES: Table = StoredResource.__table__  # type: ignore[attr-defined]
_VERSIONS: Table = ResourceVersion.__table__  # type: ignore[attr-defined]
_VERSION_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "body")


class HasBody(Protocol):
    @property
    def body(self) -> bytes: ...


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


def resource_row(resource: dict[str, Any], epu: str, moment: datetime) -> dict[str, Any]:
    """The row of a new resource (version 1), stamped; `resource` must carry its id."""
    stamp(resource, 1, moment)
    return {
        "resource_type": resource["resourceType"],
        "id": resource["id"],
        "version_id": 1,
        "last_updated": moment,
        "epu": epu,
        "status": resource.get("status"),
        "body": orjson.dumps(resource),
    }


def insert_resource_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store new resources from their rows, and each as version 1 of its history.

    Core INSERTs, one per table for the whole batch: nothing reads these rows back as ORM
    objects in the same transaction, and the unit of work cost more than the database did."""
    if not rows:
        return
    session.execute(insert(_RESOURCES), rows)
    session.execute(insert(_VERSIONS), [{k: row[k] for k in _VERSION_COLUMNS} for row in rows])


def insert_resources(
    session: Session, resources: Sequence[dict[str, Any]], epu: str, moment: datetime
) -> None:
    """Store new resources (version 1) of one prescription, each carrying its id."""
    insert_resource_rows(session, [resource_row(resource, epu, moment) for resource in resources])


def insert_resource(session: Session, resource: dict[str, Any], epu: str, moment: datetime) -> None:
    """Store one new resource (version 1). `resource` must carry its id."""
    insert_resources(session, [resource], epu, moment)


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
    session.execute(
        insert(_VERSIONS).values(
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
) -> Sequence[Row[tuple[str, str, int, bytes]]]:
    """The current resources of one prescription, of the given types, in creation order: rows
    of resource_type, id, version_id and body (a Core select, no ORM objects to build)."""
    statement = (
        select(
            _RESOURCES.c.resource_type, _RESOURCES.c.id, _RESOURCES.c.version_id, _RESOURCES.c.body
        )
        .where(_RESOURCES.c.epu == epu, _RESOURCES.c.resource_type.in_(resource_types))
        .order_by(_RESOURCES.c.id)
    )
    return session.execute(statement).all()


def prescription_resources(
    connection: Any, epu: str, resource_types: Sequence[str]
) -> tuple[str, list[tuple[str, str, bytes]]] | None:
    """A prescription's prescriber and its current resources of the given types (resource_type,
    id, body, in creation order), in one statement on a driver connection; None if unknown."""
    rows = _prescription_resources_statement(tuple(sorted(resource_types))).rows(
        connection, epu=epu
    )
    if not rows:
        return None
    return rows[0][0], [(row[1], row[2], bytes(row[3])) for row in rows if row[1] is not None]


@functools.cache
def _prescription_resources_statement(resource_types: tuple[str, ...]) -> Statement:
    if not all(name.isalpha() for name in resource_types):
        raise ValueError("resource types are names")  # they are spliced into the SQL below
    listed = ", ".join(f"'{name}'" for name in resource_types)
    return Statement(
        "SELECT p.prescriber_rpps, r.resource_type, r.id, r.body FROM prescriptions p "
        f"LEFT JOIN resources r ON r.epu = p.epu AND r.resource_type IN ({listed}) "
        "WHERE p.epu = :epu ORDER BY r.id"
    )


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


def loads(row: HasBody) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(row.body)
    return parsed
