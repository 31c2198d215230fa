"""Pull: the lab (or the author) gets a prescription by its EPU as a searchset Bundle."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from app.fhir.searchset import Hit, searchset
from app.security import audit
from app.security.caller import Caller
from app.store.resources import prescription_resources
from app.workflow.access import refuse_operations_staff, refuse_unless_visible, unknown_epu
from app.workflow.audited import audited

MATCHED = "ServiceRequest"
CONTEXT_TYPES = ("Observation", "Condition")


@dataclass(frozen=True)
class Includes:
    """Which related resources the search asked for; clinical context always comes along, since a
    lab cannot run some exams without it."""

    requester: bool = True
    subject: bool = True
    tasks: bool = True
    provenance: bool = True

    def resource_types(self) -> list[str]:
        types = [MATCHED, *CONTEXT_TYPES]
        if self.requester:
            types += ["Practitioner", "PractitionerRole", "Organization"]
        if self.subject:
            types.append("Patient")
        if self.tasks:
            types.append("Task")
        if self.provenance:
            types.append("Provenance")
        return types


EVERYTHING = Includes()


def prescription_bundle(
    session: Session,
    base_url: str,
    caller: Caller,
    epu: str,
    includes: Includes,
    self_link: str,
    expression: str = "epu",
) -> bytes:
    """The prescription as a searchset: its lines as matches, the rest as includes.

    One statement reads the prescription and its resources as stored bytes: this is the hottest
    path of the gateway."""
    refuse_operations_staff(caller)
    found = prescription_resources(session, epu, includes.resource_types())
    if found is None:
        raise unknown_epu(expression)
    prescriber_rpps, rows = found
    refuse_unless_visible(caller, prescriber_rpps, expression)
    matches = [
        Hit(row.resource_type, row.id, row.body) for row in rows if row.resource_type == MATCHED
    ]
    others = [
        Hit(row.resource_type, row.id, row.body, "include")
        for row in rows
        if row.resource_type != MATCHED
    ]
    return searchset(base_url, [*matches, *others], self_link)


def pull(
    engine: Engine,
    base_url: str,
    caller: Caller,
    epu: str,
    includes: Includes,
    self_link: str,
    address: str | None,
    expression: str = "epu",
) -> bytes:
    def work(session: Session) -> bytes:
        return prescription_bundle(session, base_url, caller, epu, includes, self_link, expression)

    return audited(engine, caller, epu, audit.Action.PULL, address, work)
