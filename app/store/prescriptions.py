"""Reading and saving the `prescriptions` row of one EPU, as a plain record.

Every workflow operation reads it (and locks it, for a change) before anything else, so it goes
through the driver (app.store.sql) rather than the ORM's identity map."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.store.pending import save_prescription_row
from app.store.resources import ResourceRow, of_prescription
from app.store.sql import Insert, Statement, Unit, as_datetime, driver_connection


@dataclass
class PrescriptionRecord:
    """One EPU: who wrote it, where it stands, who holds it (see app.store.tables.Prescription)."""

    epu: str
    prescriber_rpps: str
    status: str
    owner_lab: str | None
    group_task_id: str
    authored_on: datetime
    expires_at: datetime
    rounds_total: int
    round: int
    last_updated: datetime
    version: int


_COLUMNS = (
    "epu, prescriber_rpps, status, owner_lab, group_task_id, authored_on, expires_at, "
    "rounds_total, round, last_updated, version"
)
_WIDTH = len(_COLUMNS.split(", "))
_READ = Statement(f"SELECT {_COLUMNS} FROM prescriptions WHERE epu = :epu")
# A change locks the row and reads its Tasks in one statement. In READ COMMITTED that statement
# reads the Tasks as they stood when it started, and a change that committed while it waited for
# the lock is seen only in the locked row: the version it reads through the subquery (of the
# statement's start) then differs from the locked row's, and the Tasks are read again. Every
# change to a Task saves the row with the next version (app.workflow.state.summarise). On
# SQLite the writer already holds the database's lock (BEGIN IMMEDIATE).
_WITH_TASKS = (
    "SELECT " + ", ".join(f"p.{name}" for name in _COLUMNS.split(", ")) + ", "
    "(SELECT started.version FROM prescriptions started WHERE started.epu = p.epu), "
    "r.id, r.version_id, r.body FROM prescriptions p "
    "LEFT JOIN resources r ON r.epu = p.epu AND r.resource_type = 'Task' WHERE p.epu = {epu}"
)
_LOCK = Statement(_WITH_TASKS.format(epu=":epu"), postgresql_lock="FOR UPDATE OF p")
_LOCK_OF_TASK = Statement(
    _WITH_TASKS.format(
        epu="(SELECT epu FROM resources WHERE resource_type = 'Task' AND id = :task_id)"
    ),
    postgresql_lock="FOR UPDATE OF p",
)
_LOCKED = "epu.locked_prescriptions"
_LOCKED_TASKS = "epu.locked_tasks"


_INSERT = Insert("prescriptions", (*_COLUMNS.split(", "), "created_at"))
_INSERT_IDEMPOTENCY = Insert(
    "idempotency_records",
    ("key", "content_hash", "epu", "response", "created_at"),
)


def insert_prescription(session: Unit, record: PrescriptionRecord) -> None:
    """Store a new prescription's row (created when it was last updated: now)."""
    row = {**vars(record), "created_at": record.last_updated}
    _INSERT.rows(driver_connection(session), [row])


def insert_idempotency_record(
    session: Unit, key: str, content_hash: str, epu: str, response: bytes, moment: datetime
) -> None:
    """Remember a create's first answer under its key; DuplicateKey if the key is taken."""
    row = {
        "key": key,
        "content_hash": content_hash,
        "epu": epu,
        "response": response,
        "created_at": moment,
    }
    _INSERT_IDEMPOTENCY.rows(driver_connection(session), [row])


_READ_IDEMPOTENCY = Statement(
    "SELECT content_hash, epu, response FROM idempotency_records WHERE key = :key"
)


def read_idempotency_record(session: Unit, key: str) -> tuple[str, str, bytes] | None:
    """(content hash, EPU, first answer) remembered under `key`, or None."""
    rows = _READ_IDEMPOTENCY.rows(driver_connection(session), key=key)
    if not rows:
        return None
    content_hash, epu, response = rows[0]
    return str(content_hash), str(epu), bytes(response)


def read_prescription(
    session: Unit, epu: str, for_update: bool = False
) -> PrescriptionRecord | None:
    """The row, or None; `for_update` locks it until the session's transaction ends. A row this
    transaction already locked is not read again: nobody else can have changed it."""
    locked: dict[str, PrescriptionRecord] = session.info.setdefault(_LOCKED, {})
    if epu in locked:
        return locked[epu]
    if for_update:
        return _hold(session, _LOCK.rows(driver_connection(session), epu=epu))
    rows = _READ.rows(driver_connection(session), epu=epu)
    return _record(rows[0]) if rows else None


def lock_prescription_of_task(session: Unit, task_id: str) -> PrescriptionRecord | None:
    """The prescription a Task belongs to, locked as `read_prescription(for_update=True)` does
    (a line update knows only its Task: this finds and locks in one statement)."""
    return _hold(session, _LOCK_OF_TASK.rows(driver_connection(session), task_id=task_id))


def locked_tasks(session: Unit, epu: str) -> list[ResourceRow]:
    """The Task rows of a prescription this transaction locked, as read with the lock (once),
    in creation order."""
    found: list[ResourceRow] | None = session.info.get(_LOCKED_TASKS, {}).pop(epu, None)
    return found if found is not None else of_prescription(session, epu, ["Task"])


def _hold(session: Unit, rows: list[tuple[Any, ...]]) -> PrescriptionRecord | None:
    """The locked row, remembered with the Tasks read with it (see _WITH_TASKS)."""
    if not rows:
        return None
    record = _record(rows[0][:_WIDTH])
    session.info.setdefault(_LOCKED, {})[record.epu] = record
    if rows[0][_WIDTH] == record.version:  # the version the statement started with
        tasks = [
            ResourceRow("Task", task_id, version, bytes(body))
            for *_, task_id, version, body in rows
            if task_id is not None
        ]
        session.info.setdefault(_LOCKED_TASKS, {})[record.epu] = sorted(tasks, key=lambda t: t.id)
    return record


def _record(row: tuple[Any, ...]) -> PrescriptionRecord:
    (epu, rpps, status, owner, group, authored, expires, total, round_, updated, version) = row
    return PrescriptionRecord(
        epu,
        rpps,
        status,
        owner,
        group,
        as_datetime(authored),
        as_datetime(expires),
        total,
        round_,
        as_datetime(updated),
        version,
    )


def save_prescription(session: Unit, record: PrescriptionRecord) -> None:
    """Write back what operations change: status, holder, round, last update and version (when
    the session commits, with the operation's other writes: app.store.pending)."""
    save_prescription_row(
        session,
        {
            "epu": record.epu,
            "status": record.status,
            "owner_lab": record.owner_lab,
            "round": record.round,
            "last_updated": record.last_updated,
            "version": record.version,
        },
    )
