"""The printable ordonnance of a prescription, for its prescriber."""

from __future__ import annotations

from sqlalchemy import Engine

from app.documents.from_fhir import ordonnance_of
from app.documents.ordonnance import render_ordonnance
from app.domain.errors import error
from app.security import audit
from app.security.caller import Caller, Role
from app.store.resources import loads, of_prescription
from app.store.sql import Unit
from app.terminology.index import Terminology
from app.workflow.access import find_for
from app.workflow.audited import audited

PRINTED_TYPES = ["ServiceRequest", "Practitioner", "PractitionerRole", "Organization",
                 "Observation", "Condition"]  # fmt: skip


def ordonnance_pdf(
    engine: Engine, terminology: Terminology, caller: Caller, epu: str, address: str | None
) -> bytes:
    if caller.role is not Role.PRESCRIBER:
        raise error(403, "ROLE_NOT_ALLOWED", "The ordonnance is printed by its prescriber.",
                    issue_type="forbidden")  # fmt: skip

    def work(session: Unit, epu: str) -> bytes:
        prescription = find_for(session, caller, epu)
        resources = [loads(row) for row in of_prescription(session, epu, PRINTED_TYPES)]
        return render_ordonnance(
            ordonnance_of(epu, prescription.authored_on, resources, terminology)
        )

    return audited(engine, caller, epu, audit.Action.DOCUMENT, address, work)
