"""Reading single resources and their history, for those who may see the prescription."""

from __future__ import annotations

from sqlalchemy import Engine

from app.domain.errors import GatewayError, error
from app.fhir.searchset import Hit
from app.security.caller import Caller, Role
from app.store.database import transaction
from app.store.resources import CurrentRow, current, version_body, versions
from app.store.sql import Unit
from app.workflow.access import find_for

READABLE_TYPES = {
    "ServiceRequest", "Task", "Patient", "Practitioner", "PractitionerRole", "Organization",
    "Observation", "Condition", "Provenance", "AuditEvent",
}  # fmt: skip


def read_resource(
    engine: Engine, caller: Caller, resource_type: str, resource_id: str
) -> CurrentRow:
    with transaction(engine) as session:
        return _visible(session, caller, resource_type, resource_id)


def history(engine: Engine, caller: Caller, resource_type: str, resource_id: str) -> list[Hit]:
    with transaction(engine) as session:
        row = _visible(session, caller, resource_type, resource_id)
        return [
            Hit(version.resource_type, version.id, version.body)
            for version in versions(session, row)
        ]


def version(
    engine: Engine, caller: Caller, resource_type: str, resource_id: str, version_id: int
) -> bytes:
    with transaction(engine) as session:
        row = _visible(session, caller, resource_type, resource_id)
        body = version_body(session, row, version_id)
        if body is None:
            raise _not_found(resource_type, f"{resource_id}/_history/{version_id}")
        return body


def _visible(session: Unit, caller: Caller, resource_type: str, resource_id: str) -> CurrentRow:
    """The current resource if the caller may see it: the prescription's author, or the lab that
    holds it; AuditEvents for the author only. Anyone else gets the same 404 as for nothing."""
    row = current(session, resource_type, resource_id) if resource_type in READABLE_TYPES else None
    if row is None or (resource_type == "AuditEvent" and caller.role is not Role.PRESCRIBER):
        raise _not_found(resource_type, resource_id)
    try:
        prescription = find_for(session, caller, row.epu)
    except GatewayError as refused:
        if refused.status == 404:
            raise _not_found(resource_type, resource_id) from None
        raise
    if caller.role is Role.LAB and prescription.owner_lab != caller.lab:
        raise _not_found(resource_type, resource_id)
    return row


def _not_found(resource_type: str, resource_id: str) -> GatewayError:
    return error(
        404,
        "RESOURCE_UNKNOWN",
        f"{resource_type}/{resource_id[:64]} is not known, or not visible to this account.",
        issue_type="not-found",
    )
