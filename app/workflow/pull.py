"""Pull: the lab (or the author) gets a prescription by its EPU as a searchset Bundle."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.fhir.searchset import Hit, searchset
from app.security import audit
from app.security.caller import Caller
from app.store.database import transaction
from app.store.resources import of_prescription
from app.workflow.access import find_for, now

MATCHED = "ServiceRequest"
CONTEXT_TYPES = ("Observation", "Condition")


@dataclass(frozen=True)
class Includes:
    """Which related resources the search asked for; clinical context always comes along, since a
    lab cannot run some exams without it."""

    requester: bool = True
    subject: bool = True
    tasks: bool = True


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
    types = [MATCHED, *CONTEXT_TYPES]
    if includes.requester:
        types += ["Practitioner", "PractitionerRole", "Organization"]
    if includes.subject:
        types.append("Patient")
    if includes.tasks:
        types.append("Task")
    with transaction(engine) as session:
        find_for(session, caller, epu, expression)
        rows = of_prescription(session, epu, types)
        audit.record(session, caller, epu, audit.Action.PULL, now(), address=address)
    hits = sorted(
        (Hit(row.resource_type, row.id, row.body, "match" if row.resource_type == MATCHED else "include")
         for row in rows),
        key=lambda hit: hit.mode != "match",
    )
    return searchset(base_url, hits, self_link)
