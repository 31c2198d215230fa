"""Two labs racing for one prescription, two updates racing on one Task, and a crash mid-way:
exactly one wins, and a failure leaves nothing half-done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from app.domain.errors import GatewayError
from app.domain.task_status import Operation, Status
from app.security.caller import Caller, Role
from app.store.database import orm_session
from app.store.resources import insert_resource, instant, new_ids, replace_resource
from app.store.tables import Prescription, ResourceVersion, StoredResource
from app.workflow import claim as claim_module
from app.workflow.access import now
from app.workflow.state import Held, load, move, summarise
from tests.conftest import LAB, OTHER_LAB, Tokens
from tests.scenarios.workflow_steps import (
    claimed_line,
    new_prescription,
    operation,
    set_status,
    tasks,
)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread; their answers, in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("attempt", range(3))
def test_two_labs_claiming_at_once_one_wins(
    client: TestClient, tokens: Tokens, attempt: int
) -> None:
    epu = new_prescription(client, tokens)
    first, second = tokens.lab(LAB), tokens.lab(OTHER_LAB)

    answers = race(
        lambda: operation(client, "claim", first, epu),
        lambda: operation(client, "claim", second, epu),
    )

    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = LAB if answers[0].status_code == 200 else OTHER_LAB
    owners = {
        t["owner"]["identifier"]["value"] for t in tasks(client, tokens.prescriber(), epu)["lines"]
    }
    assert owners == {winner}


@pytest.mark.parametrize("attempt", range(3))
def test_two_updates_racing_on_one_task_one_gets_412(
    client: TestClient, tokens: Tokens, attempt: int
) -> None:
    epu, line = claimed_line(client, tokens)

    answers = race(
        lambda: set_status(client, tokens.lab(), line, "in-progress"),
        lambda: set_status(client, tokens.lab(), line, "completed"),
    )

    assert sorted(a.status_code for a in answers) == [200, 412]
    stored = client.get(f"/fhir/Task/{line['id']}", headers=tokens.lab()).json()
    assert stored["meta"]["versionId"] == "3"


def test_a_crash_mid_claim_leaves_nothing_half_done(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    epu = new_prescription(client, tokens)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        before = {
            (r.resource_type, r.id, r.version_id)
            for r in session.execute(select(StoredResource)).scalars()
        }

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(claim_module, "record_provenance", crash)
    response = operation(client, "claim", tokens.lab(), epu)

    assert response.status_code == 500
    assert "disk full" not in response.text and "Traceback" not in response.text
    with Session(engine) as session:
        after = {
            (r.resource_type, r.id, r.version_id)
            for r in session.execute(select(StoredResource)).scalars()
        }
        prescription = session.get(Prescription, epu)
    assert after == before
    assert prescription is not None and prescription.owner_lab is None
    assert prescription.status == "requested"


def test_a_version_stored_meanwhile_refuses_the_whole_change(
    client: TestClient, tokens: Tokens
) -> None:
    """A change's writes go out together when it commits: if another writer stored a version of
    one of its resources in between, the change gets 412 and none of it is stored."""
    epu, line = claimed_line(client, tokens)
    seen = int(line["meta"]["versionId"])
    engine = client.app.state.engine  # type: ignore[attr-defined]
    moment = now()
    note = {"resourceType": "Provenance", "id": new_ids(1)[0], "recorded": instant(moment)}

    with pytest.raises(GatewayError) as refused, orm_session(engine) as session:
        insert_resource(session, note, epu, moment)
        replace_resource(session, {**line, "status": "in-progress"}, seen, moment)
        with orm_session(engine) as other:
            replace_resource(other, {**line, "status": "completed"}, seen, moment)

    assert refused.value.status == 412
    assert [i.error_code for i in refused.value.issues] == ["VERSION_CONFLICT"]
    assert list(refused.value.issues[0].expression) == ["Task.meta.versionId"]
    with Session(engine) as session:
        assert session.get(StoredResource, ("Provenance", note["id"])) is None
        stored = session.get(StoredResource, ("Task", line["id"]))
        assert stored is not None and (stored.status, stored.version_id) == ("completed", seen + 1)
        assert session.get(ResourceVersion, ("Task", line["id"], seen + 2)) is None


def test_a_change_that_waited_for_the_lock_sees_the_tasks_the_holder_wrote(
    client: TestClient, tokens: Tokens
) -> None:
    """A change locks the prescription and reads its Tasks in one statement, whose view of the
    Tasks dates from before it waited: once the holder commits, the waiting change must still see
    the Tasks as the holder left them, not as they were."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers queue at BEGIN IMMEDIATE, before they read anything")
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    lab = Caller("lab-test", Role.LAB, lab=LAB)
    waited: list[Held] = []

    def second_change() -> None:
        with orm_session(engine) as session:
            waited.append(load(session, lab, epu))

    with orm_session(engine) as session:
        held = load(session, lab, epu)
        line = held.lines[0]
        move(session, line, Status.IN_PROGRESS, Operation.UPDATE, now())
        summarise(session, held, now())
        second = threading.Thread(target=second_change)
        second.start()
        wait_for_a_lock_wait(engine)
    second.join()

    seen = waited[0].line(line.id)
    assert seen is not None
    assert (seen.status, seen.version) == (Status.IN_PROGRESS, line.version)
    assert waited[0].prescription.version == held.prescription.version


def wait_for_a_lock_wait(engine: Engine, deadline_seconds: float = 10.0) -> None:
    """Returns once some session of this database waits for a row lock."""
    deadline = time.monotonic() + deadline_seconds
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar_one()  # fmt: skip
            if waiting:
                return
            connection.rollback()
    raise AssertionError("the second change never waited for the lock")
