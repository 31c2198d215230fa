"""AuditEvents: every read and write of a prescription, and every refused attempt, leaves one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from app.fhir.identifiers import epu_identifier, lab_identifier, rpps_identifier
from app.security.caller import Caller, Role
from app.store.resources import insert_resource, instant, new_ids
from app.store.sql import Unit


class Action(StrEnum):
    """What was done, as AuditEvent.subtype (our own codes) and action (C/R/U/D/E)."""

    CREATE = "create"
    PULL = "pull"
    READ = "read"
    CLAIM = "claim"
    RELEASE = "release"
    UPDATE = "update"
    ADAPT = "adapt"
    CANCEL = "cancel"
    STATUS = "status"
    DOCUMENT = "document"


_CRUDE = {
    Action.CREATE: "C",
    Action.PULL: "R",
    Action.READ: "R",
    Action.STATUS: "R",
    Action.DOCUMENT: "R",
    Action.CLAIM: "E",
    Action.RELEASE: "E",
    Action.CANCEL: "E",
    Action.UPDATE: "U",
    Action.ADAPT: "U",
}
ACTION_SYSTEM = "https://epu-gateway/fhir/CodeSystem/audit-action"
# AuditEvent.outcome: 0 success, 4 minor failure (the client's request was refused).
SUCCESS, REFUSED = "0", "4"


READS = frozenset({Action.PULL, Action.READ, Action.STATUS, Action.DOCUMENT})
"""Actions that change nothing: their AuditEvents go through the journal (app.security.audit_journal)."""


def record(
    session: Unit,
    caller: Caller,
    epu: str,
    action: Action,
    moment: datetime,
    outcome: str = SUCCESS,
    description: str | None = None,
    address: str | None = None,
) -> None:
    """Write the AuditEvent in the caller's transaction: it commits with the change it records."""
    event = audit_event(caller, epu, action, moment, outcome, description, address)
    insert_resource(session, event, epu, moment)


def audit_event(
    caller: Caller,
    epu: str,
    action: Action,
    moment: datetime,
    outcome: str = SUCCESS,
    description: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"text": caller.role.value},
        "who": {"identifier": agent_identifier(caller), "display": caller.audit_name},
        "requestor": True,
    }
    if address:
        agent["network"] = {"address": address, "type": "2"}
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": new_ids(1)[0],
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": ACTION_SYSTEM, "code": action.value}],
        "action": _CRUDE[action],
        "recorded": instant(moment),
        "outcome": outcome,
        "agent": [agent],
        "source": {"observer": {"display": "epu-gateway"}},
        "entity": [{"what": {"identifier": epu_identifier(epu)}}],
    }
    if description:
        event["outcomeDesc"] = description
    return event


def agent_identifier(caller: Caller) -> dict[str, Any]:
    """How AuditEvents and Provenance name the caller: the lab, else the professional's RPPS."""
    if caller.role is Role.LAB and caller.lab:
        return lab_identifier(caller.lab)
    if caller.rpps:
        return rpps_identifier(caller.rpps)
    return {"system": "https://epu-gateway/operator", "value": caller.subject}
