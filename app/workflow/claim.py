"""Claim: a lab takes the prescription; its lines become `accepted` with the lab as owner."""

from __future__ import annotations

from app.domain.errors import error
from app.domain.task_status import Operation, Status
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.sql import Unit
from app.workflow.access import now
from app.workflow.audited import audited
from app.workflow.pull import EVERYTHING, prescription_bundle
from app.workflow.state import load, move, record_provenance, refuse_if_closed, summarise


def claim(
    database: Database, base_url: str, caller: Caller, epu: str, self_link: str, address: str | None
) -> bytes:
    def work(session: Unit, epu: str) -> bytes:
        moment = now()
        held = load(session, caller, epu)
        refuse_if_closed(held, moment)
        owner = held.prescription.owner_lab
        if owner is not None and owner != caller.lab:
            raise error(
                409,
                "LOCKED_BY_OTHER_LAB",
                "Another lab has already claimed this prescription. It can be taken once that "
                "lab releases it.",
                "epu",
                issue_type="lock-error",
            )
        if owner is None:
            held.prescription.owner_lab = caller.lab
            for line in held.lines:
                if line.status is Status.REQUESTED:
                    move(session, line, Status.ACCEPTED, Operation.CLAIM, moment, owner=caller.lab)
            summarise(session, held, moment)
            record_provenance(session, caller, epu, [held.group.resource], "claim", moment)
        return prescription_bundle(session, base_url, caller, epu, EVERYTHING, self_link)

    return audited(database, caller, epu, audit.Action.CLAIM, address, work)
