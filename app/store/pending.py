"""What an operation stores, held on its session and written when it commits (or before it next
reads resources): the prescription's row, new resources, new versions of existing ones (each
checked against the version its writer read: 412 if another got there first) and the history
rows of the versions they supersede. On PostgreSQL that is one statement in all: measured on a
done, two round trips fewer of seven, and a tenth of the gateway's CPU per request.

`resource_versions` holds superseded versions only: the current one is the `resources` row
(app.store.resources.versions reads both). A new resource adds no history row, and an update
copies the row it replaces inside the database, so a body crosses the wire once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from app.domain.errors import version_conflict
from app.store.sql import (
    Insert,
    PositionalStatement,
    Statement,
    Unit,
    driver_connection,
    is_sqlite,
    values_list,
)

_SAVES = "epu.pending_saves"
_RESOURCES = "epu.pending_resources"
_UPDATES = "epu.pending_updates"
_VERSIONS = "epu.pending_versions"

_RESOURCE_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "epu", "status", "body")
_VERSION_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "body")
_SAVE_COLUMNS = ("epu", "status", "owner_lab", "round", "last_updated", "version")
_UPDATE_COLUMNS = ("resource_type", "id", "seen_version", "version_id", "last_updated", "status",
                  "body")  # fmt: skip
_RESOURCE_CASTS = ("text", "text", "int", "timestamptz", "text", "text", "bytea")
_VERSION_CASTS = ("text", "text", "int", "timestamptz", "bytea")
_SAVE_CASTS = ("text", "text", "text", "int", "timestamptz", "int")
_UPDATE_CASTS = ("text", "text", "int", "int", "timestamptz", "text", "bytea")


def save_prescription_row(session: Unit, row: dict[str, Any]) -> None:
    """Write back the prescription's row (`epu`, `status`, `owner_lab`, `round`,
    `last_updated`, `version`); the operation holds its lock."""
    session.info.setdefault(_SAVES, {})[row["epu"]] = row


def add_resources(session: Unit, rows: Sequence[dict[str, Any]]) -> None:
    session.info.setdefault(_RESOURCES, []).extend(rows)


def is_new(session: Unit, key: tuple[str, str]) -> bool:
    """Whether this operation inserts the resource and has not written it yet."""
    return any((row["resource_type"], row["id"]) == key for row in session.info.get(_RESOURCES, ()))


def pending_update(session: Unit, key: tuple[str, str]) -> dict[str, Any] | None:
    updates: dict[tuple[str, str], dict[str, Any]] = session.info.get(_UPDATES, {})
    return updates.get(key)


def add_update(session: Unit, row: dict[str, Any]) -> None:
    """A new version of a stored resource (a row of _UPDATE_COLUMNS). A version this operation
    made and now supersedes goes to the history from here; the stored one is copied when it is
    written."""
    updates: dict[tuple[str, str], dict[str, Any]] = session.info.setdefault(_UPDATES, {})
    key = (row["resource_type"], row["id"])
    if key in updates:
        session.info.setdefault(_VERSIONS, []).append(_history_row(updates[key]))
    updates[key] = row


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    """The `resource_versions` row of a resource row."""
    return {name: row[name] for name in _VERSION_COLUMNS}


@event.listens_for(Session, "before_commit")
def write_pending(session: Unit) -> None:
    """Write what is pending: when the session commits, and before a read that must see it."""
    saves = list((session.info.pop(_SAVES, None) or {}).values())
    updates = list((session.info.pop(_UPDATES, None) or {}).values())
    resources = session.info.pop(_RESOURCES, None) or []
    versions = session.info.pop(_VERSIONS, None) or []
    if not (saves or updates or resources or versions):
        return
    connection = driver_connection(session)
    if is_sqlite(connection):
        _write_sqlite(connection, saves, updates, resources, versions)
    else:
        statement, values = write_statement(saves, updates, resources, versions)
        stored = {tuple(key) for key in statement.rows(connection, values)}
        _refuse_unless_stored(updates, stored)


def _refuse_unless_stored(updates: Sequence[dict[str, Any]], stored: set[tuple[Any, ...]]) -> None:
    """412 for the first update another writer overtook (its row no longer at the version read);
    the session's transaction then rolls back the rest."""
    for row in updates:
        if (row["resource_type"], row["id"]) not in stored:
            raise version_conflict(row["resource_type"], row["id"], row["seen_version"])


def write_statement(
    saves: Sequence[dict[str, Any]],
    updates: Sequence[dict[str, Any]],
    resources: Sequence[dict[str, Any]],
    versions: Sequence[dict[str, Any]],
) -> tuple[PositionalStatement, list[Any]]:
    """PostgreSQL: all of it in one statement, atomic on its own, which answers the
    (resource_type, id) of each update it stored. The audit journal, which has no session,
    writes its batches with it too."""
    values = [row[name] for row in saves for name in _SAVE_COLUMNS]
    values += [row[name] for row in updates for name in _UPDATE_COLUMNS]
    values += [row[name] for row in resources for name in _RESOURCE_COLUMNS]
    values += [row[name] for row in versions for name in _VERSION_COLUMNS]
    return _sql(len(saves), len(updates), len(resources), len(versions)), values


@functools.lru_cache(maxsize=256)
def _sql(saves: int, updates: int, resources: int, versions: int) -> PositionalStatement:
    """Each part a data-modifying CTE; PostgreSQL runs every one of them to completion, and each
    sees the tables as they were when the statement started (so `superseded` reads the rows
    `updated` replaces)."""
    ctes: list[str] = []
    first = 1

    def rows(columns: Sequence[str], casts: Sequence[str], count: int) -> str:
        nonlocal first
        listed = values_list("VALUES ", len(columns), count, casts, first=first)
        first += len(columns) * count
        return f"({listed}) AS v({', '.join(columns)})"

    history = f"INSERT INTO resource_versions ({', '.join(_VERSION_COLUMNS)})"
    if saves:
        ctes.append(
            "saved AS (UPDATE prescriptions AS p SET status = v.status, owner_lab = v.owner_lab, "
            "round = v.round, last_updated = v.last_updated, version = v.version FROM "
            f"{rows(_SAVE_COLUMNS, _SAVE_CASTS, saves)} WHERE p.epu = v.epu)"
        )
    if updates:
        ctes.append(f"changes AS (SELECT * FROM {rows(_UPDATE_COLUMNS, _UPDATE_CASTS, updates)})")
        ctes.append(
            "updated AS (UPDATE resources AS r SET version_id = v.version_id, "
            "last_updated = v.last_updated, status = v.status, body = v.body FROM changes AS v "
            "WHERE r.resource_type = v.resource_type AND r.id = v.id "
            "AND r.version_id = v.seen_version RETURNING r.resource_type, r.id)"
        )
        ctes.append(
            f"superseded AS ({history} SELECT r.resource_type, r.id, r.version_id, "
            "r.last_updated, r.body FROM resources AS r JOIN changes AS v "
            "ON r.resource_type = v.resource_type AND r.id = v.id "
            "AND r.version_id = v.seen_version)"
        )
    if resources:
        ctes.append(
            f"stored AS (INSERT INTO resources ({', '.join(_RESOURCE_COLUMNS)}) "
            f"SELECT * FROM {rows(_RESOURCE_COLUMNS, _RESOURCE_CASTS, resources)})"
        )
    if versions:  # only those of updates that stored: an overtaken one is a 412, not a clash
        ctes.append(
            f"passed AS ({history} SELECT v.* FROM {rows(_VERSION_COLUMNS, _VERSION_CASTS, versions)}"
            " JOIN updated AS u ON u.resource_type = v.resource_type AND u.id = v.id)"
        )
    answer = "SELECT resource_type, id FROM updated" if updates else "SELECT NULL, NULL LIMIT 0"
    return PositionalStatement(f"WITH {', '.join(ctes)} {answer}")


_INSERT_RESOURCES = Insert("resources", _RESOURCE_COLUMNS)
_INSERT_VERSIONS = Insert("resource_versions", _VERSION_COLUMNS)
_SAVE = Statement(
    "UPDATE prescriptions SET status = :status, owner_lab = :owner_lab, round = :round, "
    "last_updated = :last_updated, version = :version WHERE epu = :epu"
)
_SUPERSEDE = Statement(
    "INSERT INTO resource_versions (resource_type, id, version_id, last_updated, body) "
    "SELECT resource_type, id, version_id, last_updated, body FROM resources "
    "WHERE resource_type = :resource_type AND id = :id AND version_id = :seen_version"
)
_UPDATE = Statement(
    "UPDATE resources SET version_id = :version_id, last_updated = :last_updated, "
    "status = :status, body = :body "
    "WHERE resource_type = :resource_type AND id = :id AND version_id = :seen_version"
)


def _write_sqlite(
    connection: Any,
    saves: Sequence[dict[str, Any]],
    updates: Sequence[dict[str, Any]],
    resources: Sequence[dict[str, Any]],
    versions: Sequence[dict[str, Any]],
) -> None:
    """SQLite: the writer holds the database's lock (BEGIN IMMEDIATE); the updates go before the
    inserts, as `replace_resource` expects, each after the copy of the row it replaces."""
    for row in saves:
        _SAVE.execute(connection, **row)
    stored = set()
    for row in updates:
        _SUPERSEDE.execute(connection, **row)
        if _UPDATE.execute(connection, **row):
            stored.add((row["resource_type"], row["id"]))
    _refuse_unless_stored(updates, stored)
    _INSERT_RESOURCES.rows(connection, resources)
    _INSERT_VERSIONS.rows(connection, versions)
