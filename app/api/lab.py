"""The lab's software: pull a prescription by its EPU."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import (
    GUARDED_LOOKUP,
    client_address,
    engine_of,
    fhir_response,
    requires,
    self_link,
    settings_of,
)
from app.domain import epu_id
from app.domain.errors import error
from app.security.caller import Caller, Role
from app.workflow.pull import Includes, pull

router = APIRouter(tags=["lab"])

REQUISITION = "requisition"


@router.get(
    "/fhir/ServiceRequest",
    summary="Pull a prescription by its EPU (requisition)",
    dependencies=[GUARDED_LOOKUP],
)
def search_service_requests(
    request: Request, caller: Caller = requires(Role.LAB, Role.PRESCRIBER)
) -> Response:
    epu = epu_from_requisition(request.query_params.get(REQUISITION))
    includes_asked = request.query_params.getlist("_include")
    revincludes_asked = request.query_params.getlist("_revinclude")
    includes = Includes(
        requester="ServiceRequest:requester" in includes_asked or "*" in includes_asked,
        subject="ServiceRequest:subject" in includes_asked
        or "ServiceRequest:patient" in includes_asked
        or "*" in includes_asked,
        tasks="Task:focus" in revincludes_asked,
        provenance="Provenance:target" in revincludes_asked,
    )
    body = pull(
        engine_of(request),
        settings_of(request).public_base_url.rstrip("/"),
        caller,
        epu,
        includes,
        self_link(request),
        client_address(request),
        expression=REQUISITION,
    )
    return fhir_response(body)


def epu_from_requisition(value: str | None) -> str:
    """The EPU of a `requisition` search value: `system|code`, or the bare (typed) code."""
    if not value:
        raise error(
            400,
            "SEARCH_NOT_SUPPORTED",
            f"Prescriptions are found by their EPU: ?requisition={epu_id.EPU_SYSTEM}|<EPU code>.",
            REQUISITION,
            issue_type="not-supported",
        )
    system, separator, code = value.rpartition("|")
    if separator and system not in ("", epu_id.EPU_SYSTEM):
        raise error(
            400,
            "UNKNOWN_IDENTIFIER_SYSTEM",
            f"requisition's system must be {epu_id.EPU_SYSTEM}.",
            REQUISITION,
        )
    return epu_id.normalise(code, REQUISITION)
