"""The lab's workflow operations and the prescriber's cancel: claim, release, update a line,
adapt, cancel."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from app.api.deps import (
    LookUp,
    base_url,
    changes_of,
    client_address,
    fhir_json_body,
    fhir_response,
    json_patch_body,
    requires,
    self_link,
    terminology_of,
)
from app.domain import epu_id
from app.domain.errors import error
from app.fhir.body import require_resource
from app.fhir.parameters import required_text
from app.security.caller import Caller, Role
from app.workflow.adapt import adapt
from app.workflow.cancel import cancel
from app.workflow.claim import claim
from app.workflow.release import release
from app.workflow.update_task import update_task

router = APIRouter(tags=["lab workflow"])


def _epu_parameter(parameters: Any) -> str:
    document = require_resource(parameters, "Parameters")
    return epu_id.normalise(
        required_text(document, "epu"), "Parameters.parameter.where(name='epu')"
    )


@router.post(
    "/fhir/Task/$claim",
    summary="A lab claims a prescription (Parameters{epu})",
)
async def claim_prescription(
    request: Request, caller: Caller = requires(Role.LAB, look_up=LookUp.GUARDED)
) -> Response:
    epu = _epu_parameter(await fhir_json_body(request))
    body = await changes_of(request).run(claim, base_url(request), caller, epu, self_link(request),
                                         client_address(request))  # fmt: skip
    return fhir_response(body)


@router.post(
    "/fhir/Task/$release",
    summary="The holding lab gives a prescription back",
)
async def release_prescription(
    request: Request, caller: Caller = requires(Role.LAB, look_up=LookUp.GUARDED)
) -> Response:
    epu = _epu_parameter(await fhir_json_body(request))
    body = await changes_of(request).run(release, base_url(request), caller, epu,
                                         self_link(request), client_address(request))  # fmt: skip
    return fhir_response(body)


@router.post(
    "/fhir/Task/$cancel",
    summary="The prescriber cancels (Parameters{epu, reason})",
)
async def cancel_prescription(
    request: Request, caller: Caller = requires(Role.PRESCRIBER, look_up=LookUp.GUARDED)
) -> Response:
    parameters = await fhir_json_body(request)
    epu = _epu_parameter(parameters)
    reason = required_text(parameters, "reason")
    group = await changes_of(request).run(cancel, caller, epu, reason, client_address(request))
    return fhir_response(group)


@router.put("/fhir/Task/{task_id}", summary="The holding lab updates a line Task (If-Match)")
async def put_task(
    request: Request,
    task_id: str,
    caller: Caller = requires(Role.LAB),
    if_match: str | None = Header(default=None),
) -> Response:
    task = require_resource(await fhir_json_body(request), "Task")
    updated = await changes_of(request).run(
        update_task, caller, task_id, if_match,
        replacement=task, address=client_address(request),
    )  # fmt: skip
    return _task_answer(updated.resource, updated.version)


@router.patch("/fhir/Task/{task_id}", summary="The holding lab patches a line Task (JSON Patch)")
async def patch_task(
    request: Request,
    task_id: str,
    caller: Caller = requires(Role.LAB),
    if_match: str | None = Header(default=None),
) -> Response:
    patch = await json_patch_body(request)
    updated = await changes_of(request).run(
        update_task, caller, task_id, if_match, patch=patch, address=client_address(request)
    )
    return _task_answer(updated.resource, updated.version)


@router.post("/fhir/ServiceRequest", summary="The biologist adds or replaces a line")
async def add_line(
    request: Request,
    caller: Caller = requires(Role.LAB),
    x_provenance: str | None = Header(default=None),
) -> Response:
    service_request = require_resource(await fhir_json_body(request), "ServiceRequest")
    stored = await changes_of(request).run(
        adapt, terminology_of(request), caller, service_request,
        _provenance_reason(x_provenance), client_address(request),
    )  # fmt: skip
    location = f"{base_url(request)}/fhir/ServiceRequest/{stored['id']}/_history/1"
    return fhir_response(stored, 201, {"Location": location, "ETag": 'W/"1"'})


def _task_answer(task: dict[str, Any], version: int) -> Response:
    return fhir_response(task, headers={"ETag": f'W/"{version}"'})


def _provenance_reason(header: str | None) -> str | None:
    """The reason of an X-Provenance header (FHIR R4 3.1.0.4.2): reason[0].text or its coding."""
    if not header:
        return None
    try:
        provenance = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise error(400, "INVALID_PROVENANCE", "X-Provenance must hold a Provenance in JSON.",
                    "X-Provenance") from None  # fmt: skip
    reasons = provenance.get("reason") if isinstance(provenance, dict) else None
    if not isinstance(reasons, list) or not reasons or not isinstance(reasons[0], dict):
        return None
    first = reasons[0]
    text = first.get("text") or next(
        (c.get("display") or c.get("code") for c in first.get("coding", []) if isinstance(c, dict)),
        None,
    )
    return str(text)[:500] if text else None
