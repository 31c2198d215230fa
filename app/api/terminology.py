"""Terminology operations for any authenticated caller: expand the JDV with a filter, validate a
code, look a LOINC code up."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.api.deps import caller_of, fhir_response, terminology_of
from app.fhir import terminology as operations
from app.fhir.terminology import MAX_COUNT, MAX_OFFSET

router = APIRouter(tags=["terminology"], dependencies=[Depends(caller_of)])


@router.get("/fhir/ValueSet/$expand", summary="Search the JDV by label or synonym")
def expand(
    request: Request,
    url: str | None = None,
    filter: str | None = None,
    count: int | None = Query(default=None, ge=0, le=MAX_COUNT),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> Response:
    terminology = terminology_of(request)
    operations.require_value_set(terminology, url)
    return fhir_response(operations.expansion(terminology, filter, offset, count))


@router.get("/fhir/ValueSet/$validate-code", summary="Is this code in the JDV?")
def validate_code(
    request: Request, code: str, url: str | None = None, system: str | None = None
) -> Response:
    terminology = terminology_of(request)
    operations.require_value_set(terminology, url)
    return fhir_response(operations.validate_code(terminology, system, code))


@router.get("/fhir/CodeSystem/$lookup", summary="A LOINC code's label, synonyms, needed context")
def lookup(request: Request, system: str, code: str) -> Response:
    operations.require_loinc(system)
    return fhir_response(operations.lookup(terminology_of(request), code))
