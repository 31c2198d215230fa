"""Renewal: when every line of a renewable prescription's round is done, the next round starts
(`requested` again, no owner) until the prescribed count is used up."""

from __future__ import annotations

from datetime import datetime

from app.domain.task_status import Operation, Status
from app.security.caller import Caller
from app.store.sql import Unit
from app.workflow.state import Held, move, record_provenance, save, set_round, summarise


def renew_if_round_done(session: Unit, caller: Caller, held: Held, moment: datetime) -> None:
    prescription = held.prescription
    if prescription.status != Status.COMPLETED or prescription.round >= prescription.rounds_total:
        return
    prescription.round += 1
    prescription.owner_lab = None
    set_round(held, prescription.round)
    for line in held.lines:
        if line.status in (Status.COMPLETED, Status.REJECTED):
            line.resource.pop("businessStatus", None)
            line.resource.pop("output", None)
            move(session, line, Status.REQUESTED, Operation.RENEW, moment, owner=None)
        elif line.status is Status.CANCELLED:
            save(session, line, moment)
    summarise(session, held, moment)
    record_provenance(
        session,
        caller,
        held.epu,
        [held.group.resource],
        "renew",
        moment,
        f"Round {prescription.round} of {prescription.rounds_total}",
    )
