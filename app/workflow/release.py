"""Release: the lab that holds the prescription gives it back, untouched, for another lab."""

from __future__ import annotations

from app.domain.task_status import Operation, Status
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.sql import Unit
from app.workflow.access import now
from app.workflow.audited import audited
from app.workflow.pull import EVERYTHING, prescription_bundle
from app.workflow.state import load, move, record_provenance, refuse_unless_holder, summarise


def release(
    database: Database, base_url: str, caller: Caller, epu: str, self_link: str, address: str | None
) -> bytes:
    def work(session: Unit, epu: str) -> bytes:
        moment = now()
        held = load(session, caller, epu)
        refuse_unless_holder(held, caller)
        held.prescription.owner_lab = None
        for line in held.lines:
            if line.status is not Status.CANCELLED:
                move(
                    session, line, Status.REQUESTED, Operation.RELEASE, moment,
                    expression=f"Task/{line.id}.status", owner=None,
                )  # fmt: skip
        summarise(session, held, moment)
        record_provenance(session, caller, epu, [held.group.resource], "release", moment)
        return prescription_bundle(session, base_url, caller, epu, EVERYTHING, self_link)

    return audited(database, caller, epu, audit.Action.RELEASE, address, work)
