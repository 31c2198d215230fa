"""Status and history: Task searches for the prescriber, single reads and `_history` for all."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.api.deps import (
    LookUp,
    base_url,
    caller_of,
    client_address,
    engine_of,
    fhir_response,
    requires,
    self_link,
)
from app.fhir.search_values import epu_of_token
from app.fhir.searchset import searchset
from app.security.caller import Caller, Role
from app.workflow import read, status_search

router = APIRouter(tags=["status"])


@router.get(
    "/fhir/Task",
    summary="Task status: by group-identifier (EPU), or the prescriber's list",
)
def search_tasks(
    request: Request,
    caller: Caller = requires(Role.PRESCRIBER, Role.LAB, look_up=LookUp.GUARDED),
) -> Response:
    base = base_url(request)
    group = request.query_params.get("group-identifier")
    if group:
        epu = epu_of_token(group, "group-identifier")
        body = status_search.tasks_of_prescription(
            engine_of(request), base, caller, epu, self_link(request), client_address(request)
        )
        return fhir_response(body)
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    query = status_search.parse_list_query(params, caller)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
    page_url = f"{base}{request.url.path}?{urlencode(kept)}{'&' if kept else ''}"
    return fhir_response(
        status_search.prescriber_list(engine_of(request), base, caller, query, page_url)
    )


@router.get(
    "/fhir/AuditEvent",
    summary="Who pulled or changed a prescription (its prescriber only)",
)
def search_audit_events(
    request: Request,
    caller: Caller = requires(Role.PRESCRIBER, Role.LAB, Role.ADMIN, look_up=LookUp.GUARDED),
) -> Response:
    epu = epu_of_token(request.query_params.get("entity-identifier"), "entity-identifier")
    base = base_url(request)
    return fhir_response(
        status_search.audit_trail(engine_of(request), base, caller, epu, self_link(request))
    )


@router.get("/fhir/{resource_type}/{resource_id}", summary="Read a resource")
def read_one(
    request: Request, resource_type: str, resource_id: str, caller: Caller = Depends(caller_of)
) -> Response:
    row = read.read_resource(engine_of(request), caller, resource_type, resource_id)
    return fhir_response(row.body, headers={"ETag": f'W/"{row.version_id}"'})


@router.get("/fhir/{resource_type}/{resource_id}/_history", summary="Every version of a resource")
def read_history(
    request: Request, resource_type: str, resource_id: str, caller: Caller = Depends(caller_of)
) -> Response:
    hits = read.history(engine_of(request), caller, resource_type, resource_id)
    base = base_url(request)
    body = searchset(base, hits, self_link(request), bundle_type="history")
    return fhir_response(body)


@router.get(
    "/fhir/{resource_type}/{resource_id}/_history/{version_id}", summary="One version of a resource"
)
def read_version(
    request: Request,
    resource_type: str,
    resource_id: str,
    version_id: int,
    caller: Caller = Depends(caller_of),
) -> Response:
    body = read.version(engine_of(request), caller, resource_type, resource_id, version_id)
    return fhir_response(body, headers={"ETag": f'W/"{version_id}"'})
