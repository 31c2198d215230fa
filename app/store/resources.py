"""Reading and writing FHIR resources as stored JSON, with every version kept for `_history`."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import event, select
from sqlmodel import Session, col

from app.domain.errors import GatewayError, error
from app.store.sql import (
    Insert,
    PositionalStatement,
    Statement,
    driver_connection,
    is_sqlite,
    values_list,
)
from app.store.tables import ResourceVersion, StoredResource


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


_INSERT_RESOURCES = Insert(
    "resources",
    ("resource_type", "id", "version_id", "last_updated", "epu", "status", "body"),
)
_INSERT_VERSIONS = Insert(
    "resource_versions",
    ("resource_type", "id", "version_id", "last_updated", "body"),
)
_PENDING_RESOURCES = "epu.pending_resources"
_PENDING_UPDATES = "epu.pending_updates"
_PENDING_VERSIONS = "epu.pending_versions"


def insert_resource_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store new resources from their rows, and each as version 1 of its history (every write
    path and the audit journal come here). Written with the session's other changes, see
    `write_pending`."""
    session.info.setdefault(_PENDING_RESOURCES, []).extend(rows)


def new_resources_statement(
    rows: Sequence[dict[str, Any]], other_versions: Sequence[dict[str, Any]] = ()
) -> tuple[PositionalStatement, list[Any]]:
    """PostgreSQL: new resources, their version-1 rows and `other_versions` (history rows of
    resources updated meanwhile) in one statement, atomic on its own (the audit journal on the
    event loop, which has no session, writes its batches with it too)."""
    columns = _INSERT_RESOURCES.columns
    versions = ", ".join(_INSERT_VERSIONS.columns)
    sql = (
        f"WITH stored AS ({values_list(_INSERT_RESOURCES.head, len(columns), len(rows))} "
        f"RETURNING {versions}) INSERT INTO resource_versions ({versions}) SELECT * FROM stored"
    )
    if other_versions:
        sql += " UNION ALL " + values_list(
            "VALUES ", len(_INSERT_VERSIONS.columns), len(other_versions), _VERSION_CASTS,
            first=len(columns) * len(rows) + 1,
        )  # fmt: skip
    values = [row[name] for row in rows for name in columns]
    values += [row[name] for row in other_versions for name in _INSERT_VERSIONS.columns]
    return PositionalStatement(sql), values


_VERSION_CASTS = ("text", "text", "int", "timestamptz", "bytea")


@event.listens_for(Session, "before_commit")
def write_pending(session: Session) -> None:
    """Write what the session's operation stored: new resources, new versions of existing ones
    (each checked against the version its writer read: 412 if another got there first), and
    their history rows, when the session commits or before it next reads resources. On
    PostgreSQL that is two statements in all (the UPDATE, then one that inserts the new resources
    and every history row), where a claim of a five-line prescription took seventeen."""
    resources = session.info.pop(_PENDING_RESOURCES, None) or []
    updates = session.info.pop(_PENDING_UPDATES, None)
    versions = session.info.pop(_PENDING_VERSIONS, None) or []
    if not (resources or updates or versions):
        return
    connection = driver_connection(session)
    # The updates first: a resource this operation inserts and then changes was written before
    # its change (see `replace_resource`), so the UPDATE finds it.
    if updates:
        _update_versions(connection, list(updates.values()))
    if resources and not is_sqlite(connection):
        statement, values = new_resources_statement(resources, versions)
        statement.execute(connection, values)
        return
    _INSERT_RESOURCES.rows(connection, resources)
    _INSERT_VERSIONS.rows(connection, [_history_row(row) for row in resources] + versions)


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    """The `resource_versions` row of a resource row."""
    return {name: row[name] for name in _INSERT_VERSIONS.columns}


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
    """Store a new version of `resource` if nobody stored one since `seen_version` (else 412,
    when the session writes it: see `write_pending`).

    The version check and the write are one UPDATE, so two writers racing cannot both win."""
    key = (resource["resourceType"], resource["id"])
    if any(
        (row["resource_type"], row["id"]) == key for row in session.info.get(_PENDING_RESOURCES, ())
    ):
        write_pending(session)  # inserted by this operation: the UPDATE must find it stored
    updates: dict[tuple[str, str], dict[str, Any]] = session.info.setdefault(_PENDING_UPDATES, {})
    earlier = updates.get(key)
    if earlier is not None and earlier["version_id"] != seen_version:
        raise version_conflict(*key, seen_version)
    new_version = seen_version + 1
    stamp(resource, new_version, moment)
    row = {
        "resource_type": key[0],
        "id": key[1],
        "seen_version": earlier["seen_version"] if earlier else seen_version,
        "version_id": new_version,
        "last_updated": moment,
        "status": resource.get("status"),
        "body": orjson.dumps(resource),
    }
    updates[key] = row
    session.info.setdefault(_PENDING_VERSIONS, []).append(_history_row(row))
    return new_version


def _update_versions(connection: Any, rows: list[dict[str, Any]]) -> None:
    """UPDATE each resource from the version its writer read; 412 for the first another writer
    changed meanwhile (its row no longer at that version)."""
    if is_sqlite(connection):
        stored = {
            (row["resource_type"], row["id"]) for row in rows if _REPLACE.execute(connection, **row)
        }
    else:
        values = [row[name] for row in rows for name in _UPDATE_COLUMNS]
        stored = {tuple(found) for found in _update_many(len(rows)).rows(connection, values)}
    for row in rows:
        if (row["resource_type"], row["id"]) not in stored:
            raise version_conflict(row["resource_type"], row["id"], row["seen_version"])


def version_conflict(resource_type: str, resource_id: str, seen_version: int) -> GatewayError:
    """412: the resource moved on since the version the client (or an operation) read."""
    return error(
        412,
        "VERSION_CONFLICT",
        f"{resource_type}/{resource_id[:64]} changed since version {seen_version}: "
        "read it again and retry.",
        f"{resource_type}.meta.versionId",
        issue_type="conflict",
    )


_REPLACE = Statement(
    "UPDATE resources SET version_id = :version_id, last_updated = :last_updated, "
    "status = :status, body = :body "
    "WHERE resource_type = :resource_type AND id = :id AND version_id = :seen_version"
)
_UPDATE_COLUMNS = (
    "resource_type",
    "id",
    "seen_version",
    "version_id",
    "last_updated",
    "status",
    "body",
)


@functools.lru_cache(maxsize=64)
def _update_many(count: int) -> PositionalStatement:
    """PostgreSQL: every pending version in one UPDATE, naming the rows it changed."""
    casts = ("text", "text", "int", "int", "timestamptz", "text", "bytea")
    return PositionalStatement(
        "UPDATE resources AS r SET version_id = v.version_id, last_updated = v.last_updated, "
        "status = v.status, body = v.body FROM ("
        + values_list("VALUES ", len(_UPDATE_COLUMNS), count, casts)
        + f") AS v({', '.join(_UPDATE_COLUMNS)}) "
        "WHERE r.resource_type = v.resource_type AND r.id = v.id "
        "AND r.version_id = v.seen_version RETURNING r.resource_type, r.id"
    )


def current(session: Session, resource_type: str, resource_id: str) -> StoredResource | None:
    write_pending(session)
    return session.get(StoredResource, (resource_type, resource_id))


class ResourceRow(NamedTuple):
    resource_type: str
    id: str
    version_id: int
    body: bytes


def of_prescription(session: Session, epu: str, resource_types: Sequence[str]) -> list[ResourceRow]:
    """The current resources of one prescription, of the given types, in creation order."""
    write_pending(session)
    rows = _listed_types(_OF_PRESCRIPTION, resource_types).rows(driver_connection(session), epu=epu)
    found = [ResourceRow(kind, id_, version, bytes(body)) for kind, id_, version, body in rows]
    return sorted(found, key=lambda row: row.id)


def prescription_resources(
    session: Session, epu: str, resource_types: Sequence[str]
) -> tuple[str, list[ResourceRow]] | None:
    """A prescription's prescriber and its current resources of the given types, in one
    statement (the pull's); None if the EPU is unknown."""
    write_pending(session)
    statement = prescription_resources_statement(resource_types)
    return prescriber_and_resources(statement.rows(driver_connection(session), epu=epu))


def prescription_resources_statement(resource_types: Sequence[str]) -> Statement:
    """The statement of `prescription_resources`, with an `epu` parameter, for async readers."""
    return _listed_types(_WITH_PRESCRIBER, resource_types)


def prescription_resources_and_failures_statement(resource_types: Sequence[str]) -> Statement:
    """The same, with first a column that says whether the failed look-ups of client keys `first`
    or `second` after `since` reached `limit` (app.security.rate_limit): the pull's anti-guessing
    check rides on its statement. There is always a row: an unknown EPU gives one of nulls."""
    return _listed_types(_WITH_FAILURES, resource_types)


def refusal_and_resources(
    rows: Sequence[tuple[Any, ...]],
) -> tuple[bool, tuple[str, list[ResourceRow]] | None]:
    return bool(rows[0][0]), prescriber_and_resources([row[1:] for row in rows])


def prescriber_and_resources(
    rows: Sequence[tuple[Any, ...]],
) -> tuple[str, list[ResourceRow]] | None:
    if not rows or rows[0][0] is None:
        return None
    resources = [
        ResourceRow(kind, id_, version, bytes(body))
        for _rpps, kind, id_, version, body in rows
        if kind is not None
    ]
    return str(rows[0][0]), sorted(resources, key=lambda row: row.id)


# These statements leave the sort by id (creation order) to Python: with ORDER BY id and a single
# type, SQLite walks the primary key (resource_type, id) through every resource of that type
# instead of taking the EPU's index.
_OF_PRESCRIPTION = (
    "SELECT resource_type, id, version_id, body FROM resources "
    "WHERE epu = :epu AND resource_type IN ({types})"
)
_WITH_PRESCRIBER = (
    "SELECT p.prescriber_rpps, r.resource_type, r.id, r.version_id, r.body FROM prescriptions p "
    "LEFT JOIN resources r ON r.epu = p.epu AND r.resource_type IN ({types}) "
    "WHERE p.epu = :epu"
)
_FAILURES_OF = "(SELECT count(*) FROM failed_lookups WHERE client = :{key} AND at > :since)"
_WITH_FAILURES = (
    f"SELECT {_FAILURES_OF.format(key='first')} >= :limit "
    f"OR {_FAILURES_OF.format(key='second')} >= :limit, "
    "p.prescriber_rpps, r.resource_type, r.id, r.version_id, r.body "
    "FROM (SELECT 1 AS one) g LEFT JOIN prescriptions p ON p.epu = :epu "
    "LEFT JOIN resources r ON r.epu = p.epu AND r.resource_type IN ({types})"
)


def _listed_types(template: str, resource_types: Sequence[str]) -> Statement:
    return _statement_for_types(template, tuple(sorted(set(resource_types))))


@functools.cache
def _statement_for_types(template: str, resource_types: tuple[str, ...]) -> Statement:
    # Resource type names are spliced into the SQL: only plain names get there.
    if not all(name.isalpha() for name in resource_types):
        raise ValueError(f"not resource type names: {resource_types}")
    return Statement(template.format(types=", ".join(f"'{name}'" for name in resource_types)))


def versions(session: Session, resource_type: str, resource_id: str) -> list[ResourceVersion]:
    """Every version of a resource, newest first."""
    write_pending(session)
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
