"""Pull: the lab (or the author) gets a prescription by its EPU as a searchset Bundle."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from app.fhir.searchset import Hit, searchset
from app.security import audit
from app.security.caller import Caller
from app.store.resources import of_prescription
from app.workflow.access import find_for
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
    session: Session, base_url: str, epu: str, includes: Includes, self_link: str
) -> bytes:
    """The prescription as a searchset: its lines as matches, the rest as includes."""
    rows = of_prescription(session, epu, includes.resource_types())
    hits = sorted(
        (
            Hit(
                row.resource_type,
                row.id,
                row.body,
                "match" if row.resource_type == MATCHED else "include",
            )
            for row in rows
        ),
        key=lambda hit: hit.mode != "match",
    )
    return searchset(base_url, hits, self_link)


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
        find_for(session, caller, epu, expression)
        return prescription_bundle(session, base_url, epu, includes, self_link)

    return audited(engine, caller, epu, audit.Action.PULL, address, work)
