"""The prescriber's software: create a prescription."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from app.api.deps import (
    base_url,
    changes_of,
    client_address,
    fhir_json_body,
    fhir_response,
    requires,
    settings_of,
    terminology_of,
)
from app.fhir.transaction_response import without_resources
from app.security.caller import Caller, Role
from app.workflow.create import create_prescription

router = APIRouter(tags=["prescriber"])


# The body is read by fhir_json_body (size, content type, syntax first), so the schema is declared
# here: it documents the endpoint and lets schema-driven clients and fuzzers send Bundles.
BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType", "type", "entry"],
                    "properties": {
                        "resourceType": {"const": "Bundle"},
                        "type": {"const": "transaction"},
                        "entry": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}


@router.post(
    "/fhir",
    summary="Create a prescription from a transaction Bundle",
    openapi_extra=BUNDLE_BODY,
)
async def create(
    request: Request,
    caller: Caller = requires(Role.PRESCRIBER),
    prefer: str | None = Header(default=None),
    idempotency_key: str | None = Header(default=None),
) -> Response:
    bundle = await fhir_json_body(request)
    created = await changes_of(request).run(
        create_prescription,
        settings_of(request),
        terminology_of(request),
        caller,
        bundle,
        idempotency_key,
        client_address(request),
    )
    answer = created.response
    if "return=representation" not in (prefer or ""):
        answer = without_resources(answer)
    headers = {"Location": f"{base_url(request)}/epu/{created.epu}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return fhir_response(answer, 201 if not created.replayed else 200, headers)
