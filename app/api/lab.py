"""The lab's software: pull a prescription by its EPU."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import (
    LookUp,
    base_url,
    client_address,
    engine_of,
    fhir_response,
    looked_up_by,
    lookup_limiter_of,
    reader_of,
    requires,
    self_link,
)
from app.domain.errors import GatewayError
from app.fhir.search_values import epu_of_token
from app.security.caller import Caller, Role
from app.workflow.pull import Guard, Includes, pull

router = APIRouter(tags=["lab"])

REQUISITION = "requisition"


@router.get(
    "/fhir/ServiceRequest",
    summary="Pull a prescription by its EPU (requisition)",
)
async def search_service_requests(
    request: Request,
    caller: Caller = requires(Role.LAB, Role.PRESCRIBER, look_up=LookUp.COUNTED),
) -> Response:
    # The anti-guessing check rides on the pull's statement (Guard).
    guard = Guard(lookup_limiter_of(request), looked_up_by(request))
    try:
        epu = epu_of_token(request.query_params.get(REQUISITION), REQUISITION)
    except GatewayError:
        await guard.limiter.guard(guard.client)  # past its limit, 429 whatever it sent
        raise
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
    body = await pull(
        reader_of(request),
        engine_of(request),
        base_url(request),
        caller,
        epu,
        includes,
        self_link(request),
        client_address(request),
        expression=REQUISITION,
        guard=guard,
    )
    return fhir_response(body)
