"""Cancel: the prescriber withdraws the prescription, as long as no lab has completed a line."""

from __future__ import annotations

from typing import Any

from app.domain.errors import error
from app.domain.task_status import Operation, Status
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.sql import Unit
from app.workflow.access import now
from app.workflow.audited import audited
from app.workflow.state import load, move, record_provenance, summarise


def cancel(
    database: Database, caller: Caller, epu: str, reason: str, address: str | None
) -> dict[str, Any]:
    """Returns the group Task as it now stands."""

    def work(session: Unit, epu: str) -> dict[str, Any]:
        moment = now()
        held = load(session, caller, epu)
        if held.prescription.status == Status.CANCELLED:
            return held.group.resource
        if any(line.status is Status.COMPLETED for line in held.lines):
            raise error(
                409,
                "ALREADY_PERFORMED",
                "A lab has already completed an exam of this prescription: it can no longer be "
                "cancelled.",
                "epu",
                issue_type="business-rule",
            )
        held.prescription.status = Status.CANCELLED.value
        held.prescription.owner_lab = None
        for line in held.lines:
            if line.status is not Status.CANCELLED:
                move(
                    session,
                    line,
                    Status.CANCELLED,
                    Operation.CANCEL,
                    moment,
                    reason=reason,
                    owner=None,
                )
        held.group.resource["statusReason"] = {"text": reason}
        summarise(session, held, moment)
        record_provenance(session, caller, epu, [held.group.resource], "cancel", moment, reason)
        return held.group.resource

    return audited(database, caller, epu, audit.Action.CANCEL, address, work)
