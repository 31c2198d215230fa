"""What answers without a token: the CapabilityStatement and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import engine_of, fhir_response, settings_of
from app.fhir.capability import capability_statement
from app.store.database import database_answers

router = APIRouter(tags=["system"])


@router.get("/fhir/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    return fhir_response(capability_statement(settings_of(request).public_base_url))


@router.get("/health", summary="Liveness and the database's state")
def health(request: Request) -> JSONResponse:
    engine = engine_of(request)
    database_ok = database_answers(engine)
    body: dict[str, Any] = {
        "status": "ok" if database_ok else "degraded",
        "database": {"dialect": engine.dialect.name, "ok": database_ok},
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)
