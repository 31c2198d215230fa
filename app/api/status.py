"""Status and history: Task searches for the prescriber, single reads and `_history` for all."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.api.deps import caller_of, engine_of, fhir_response, self_link, settings_of
from app.fhir.searchset import searchset
from app.security.caller import Caller
from app.workflow import read

router = APIRouter(tags=["status"])


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
    base = settings_of(request).public_base_url.rstrip("/")
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
