"""A resource's history: the current version is its `resources` row, and `resource_versions` holds
each version it superseded, once, whichever way the versions were written."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.config import Settings
from app.store.database import create_database_engine, orm_session
from app.store.migrate import migrate
from app.store.resources import (
    CurrentRow,
    current,
    insert_resource,
    new_ids,
    replace_resource,
    version_body,
    versions,
)
from app.workflow.access import now

EPU = "01TESTHISTORY0000A"


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = create_database_engine(settings)
    migrate(engine)
    return engine


def _task(status: str, task_id: str) -> dict[str, object]:
    return {"resourceType": "Task", "id": task_id, "status": status, "intent": "order"}


def _stored(session: Session, task_id: str) -> CurrentRow:
    row = current(session, "Task", task_id)
    assert row is not None
    return row


def _statuses(engine: Engine, task_id: str) -> list[tuple[int, str]]:
    with orm_session(engine) as session:
        return [(row.version_id, orjson.loads(row.body)["status"])
                for row in versions(session, _stored(session, task_id))]  # fmt: skip


def _stored_history(engine: Engine, task_id: str) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT version_id FROM resource_versions WHERE id = :id ORDER BY version_id"
        ), {"id": task_id}).scalars())  # fmt: skip


def test_each_operation_supersedes_the_version_before(engine: Engine) -> None:
    task_id = new_ids(1)[0]
    with orm_session(engine) as session:
        insert_resource(session, _task("requested", task_id), EPU, now())
    for seen, status in ((1, "accepted"), (2, "completed")):
        with orm_session(engine) as session:
            replace_resource(session, _task(status, task_id), seen, now())

    assert _statuses(engine, task_id) == [(3, "completed"), (2, "accepted"), (1, "requested")]
    assert _stored_history(engine, task_id) == [1, 2]
    with orm_session(engine) as session:
        stored = _stored(session, task_id)
        assert orjson.loads(version_body(session, stored, 3) or b"")["status"] == "completed"
        assert orjson.loads(version_body(session, stored, 1) or b"")["status"] == "requested"
        assert version_body(session, stored, 4) is None


def test_versions_one_operation_made_and_superseded_are_kept(engine: Engine) -> None:
    """Two new versions in one operation: the stored one is copied in the database, the one in
    between comes from the operation."""
    task_id = new_ids(1)[0]
    with orm_session(engine) as session:
        insert_resource(session, _task("requested", task_id), EPU, now())
    with orm_session(engine) as session:
        replace_resource(session, _task("accepted", task_id), 1, now())
        replace_resource(session, _task("in-progress", task_id), 2, now())

    assert _statuses(engine, task_id) == [(3, "in-progress"), (2, "accepted"), (1, "requested")]
    assert _stored_history(engine, task_id) == [1, 2]


def test_a_resource_made_and_changed_in_one_operation_keeps_both_versions(engine: Engine) -> None:
    task_id = new_ids(1)[0]
    with orm_session(engine) as session:
        insert_resource(session, _task("requested", task_id), EPU, now())
        replace_resource(session, _task("accepted", task_id), 1, now())

    assert _statuses(engine, task_id) == [(2, "accepted"), (1, "requested")]
    assert _stored_history(engine, task_id) == [1]
