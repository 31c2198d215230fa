"""Reading and writing FHIR resources as stored JSON, with every version kept for `_history`
(the current one in `resources`, those it superseded in `resource_versions`)."""

from __future__ import annotations

import functools
import operator
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson

from app.domain.errors import version_conflict
from app.store.pending import (
    add_resources,
    add_update,
    is_new,
    pending_update,
    write_pending,
)
from app.store.sql import Statement, Unit, driver_connection


class HasBody(Protocol):
    @property
    def body(self) -> bytes: ...


def new_ids(count: int) -> list[str]:
    """Fresh resource ids that sort in creation order (time first, then a counter, then random),
    so that a prescription's lines come back in the order they were written."""
    prefix = f"{time.time_ns() // 1000:014x}"
    tail = secrets.token_hex(6)
    return [f"{prefix}{index:04x}{tail}" for index in range(count)]


@functools.lru_cache(maxsize=64)
def instant(moment: datetime) -> str:
    """A UTC datetime as a FHIR instant (an operation stamps everything it writes with one
    moment: cached, strftime cost 2% of a done's CPU)."""
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


def insert_resource_rows(session: Unit, rows: Sequence[dict[str, Any]]) -> None:
    """Store new resources from their rows, at version 1 (every write path and the audit
    journal come here), when the session commits (app.store.pending)."""
    add_resources(session, rows)


def insert_resources(
    session: Unit, resources: Sequence[dict[str, Any]], epu: str, moment: datetime
) -> None:
    """Store new resources (version 1) of one prescription, each carrying its id."""
    insert_resource_rows(session, [resource_row(resource, epu, moment) for resource in resources])


def insert_resource(session: Unit, resource: dict[str, Any], epu: str, moment: datetime) -> None:
    """Store one new resource (version 1). `resource` must carry its id."""
    insert_resources(session, [resource], epu, moment)


def replace_resource(
    session: Unit, resource: dict[str, Any], seen_version: int, moment: datetime
) -> int:
    """Store a new version of `resource` if nobody stored one since `seen_version` (else 412,
    when the session writes it).

    The version check and the write are one UPDATE, so two writers racing cannot both win."""
    key = (resource["resourceType"], resource["id"])
    if is_new(session, key):
        write_pending(session)  # inserted by this operation: the UPDATE must find it stored
    earlier = pending_update(session, key)
    if earlier is not None and earlier["version_id"] != seen_version:
        raise version_conflict(*key, seen_version)
    new_version = seen_version + 1
    stamp(resource, new_version, moment)
    add_update(
        session,
        {
            "resource_type": key[0],
            "id": key[1],
            "seen_version": earlier["seen_version"] if earlier else seen_version,
            "version_id": new_version,
            "last_updated": moment,
            "status": resource.get("status"),
            "body": orjson.dumps(resource),
        },
    )
    return new_version


class CurrentRow(NamedTuple):
    """The current version of one resource, as `current` reads it."""

    resource_type: str
    id: str
    version_id: int
    epu: str
    body: bytes


def current(session: Unit, resource_type: str, resource_id: str) -> CurrentRow | None:
    write_pending(session)
    rows = _CURRENT.rows(driver_connection(session), resource_type=resource_type, id=resource_id)
    if not rows:
        return None
    kind, id_, version, epu, body = rows[0]
    return CurrentRow(kind, id_, version, epu, bytes(body))


_CURRENT = Statement(
    "SELECT resource_type, id, version_id, epu, body FROM resources "
    "WHERE resource_type = :resource_type AND id = :id"
)


class ResourceRow(NamedTuple):
    resource_type: str
    id: str
    version_id: int
    body: bytes


def of_prescription(session: Unit, epu: str, resource_types: Sequence[str]) -> list[ResourceRow]:
    """The current resources of one prescription, of the given types, in creation order."""
    write_pending(session)
    rows = _listed_types(_OF_PRESCRIPTION, resource_types).rows(driver_connection(session), epu=epu)
    found = [ResourceRow(kind, id_, version, bytes(body)) for kind, id_, version, body in rows]
    return sorted(found, key=lambda row: row.id)


def prescription_resources(
    session: Unit, epu: str, resource_types: Sequence[str]
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
    return str(rows[0][0]), sorted(resources, key=_BY_ID)


_BY_ID = operator.attrgetter("id")

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


def versions(session: Unit, row: CurrentRow) -> list[ResourceRow]:
    """Every version of a stored resource, newest first: `row` (its current one), then those it
    superseded."""
    superseded = _SUPERSEDED.rows(driver_connection(session), resource_type=row.resource_type,
                                  id=row.id)  # fmt: skip
    return [ResourceRow(row.resource_type, row.id, row.version_id, row.body)] + [
        ResourceRow(row.resource_type, row.id, version, bytes(body)) for version, body in superseded
    ]


def version_body(session: Unit, row: CurrentRow, version_id: int) -> bytes | None:
    """The body of one version of a stored resource (`row`, its current one), or None."""
    if row.version_id == version_id:
        return row.body
    found = _SUPERSEDED_VERSION.rows(driver_connection(session), resource_type=row.resource_type,
                                     id=row.id, version_id=version_id)  # fmt: skip
    return bytes(found[0][0]) if found else None


_SUPERSEDED = Statement(
    "SELECT version_id, body FROM resource_versions WHERE resource_type = :resource_type "
    "AND id = :id ORDER BY version_id DESC"
)
_SUPERSEDED_VERSION = Statement(
    "SELECT body FROM resource_versions WHERE resource_type = :resource_type AND id = :id "
    "AND version_id = :version_id"
)


def loads(row: HasBody) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(row.body)
    return parsed
