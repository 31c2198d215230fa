"""One place where every failure becomes an OperationOutcome: 4xx for what the client can fix,
503 with Retry-After when the database does not answer, and a bare 500 (no trace, no detail)
for the rest."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from app.api.deps import count_failed_lookup, fhir_response
from app.domain.errors import GatewayError, Issue
from app.fhir.outcome import operation_outcome
from app.store.lost_connections import DatabaseUnavailable

log = logging.getLogger("epu.database")

DATABASE_UNAVAILABLE = (
    # DB-API's OperationalError: "related to the database's operation and not necessarily under
    # the control of the programmer" (a dropped connection, a restart, a lock that did not
    # clear), whichever layer raised it; and the pools' own timeouts (the gateway's asyncpg pools
    # raise DatabaseUnavailable).
    psycopg.OperationalError,
    sqlite3.OperationalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    DatabaseUnavailable,
)
RETRY_AFTER_SECONDS = 2

_HTTP_CODES = {
    404: ("not-found", "NOT_FOUND", "No such endpoint."),
    405: ("not-supported", "METHOD_NOT_ALLOWED", "This method is not allowed on this endpoint."),
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    for kind in DATABASE_UNAVAILABLE:
        app.add_exception_handler(kind, _database_unavailable)


async def _gateway_error(request: Request, exc: GatewayError) -> Response:
    await count_failed_lookup(request, exc)
    return fhir_response(operation_outcome(exc.issues), exc.status, exc.headers)


async def _request_invalid(_request: Request, exc: RequestValidationError) -> Response:
    issues = []
    for problem in exc.errors():
        location = [str(part) for part in problem.get("loc", ()) if part != "body"]
        issues.append(
            Issue(
                severity="error",
                code="invalid",
                diagnostics=f"{'.'.join(location) or 'request'}: {problem.get('msg', 'invalid')}",
                expression=(location[-1],) if location else (),
                error_code="INVALID_REQUEST",
            )
        )
    return fhir_response(operation_outcome(issues), 400)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    issue_type, code, text = _HTTP_CODES.get(
        exc.status_code, ("processing", "HTTP_ERROR", "The request could not be served.")
    )
    issue = Issue(severity="error", code=issue_type, diagnostics=text, error_code=code)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return fhir_response(operation_outcome([issue]), exc.status_code, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the request's path takes. The router's 405 names those of the first route
    whose path matched (PUT alone for a DELETE on /fhir/Task/{id}, where GET and PATCH are served
    too); RFC 9110 wants the resource's methods, all of them."""
    methods = {
        method
        for route in request.app.routes
        if isinstance(route, Route) and route.methods
        and route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods
    }  # fmt: skip
    return sorted(methods)


async def _database_unavailable(_request: Request, exc: Exception) -> Response:
    # Not "nothing was changed": a connection lost at COMMIT leaves the outcome unknown. A create
    # sent again with the same Bundle.identifier is answered from the first if it went through.
    log.warning("the database did not answer", extra={"error_type": type(exc).__name__})
    issue = Issue(
        severity="error",
        code="transient",
        diagnostics="The database did not answer; try again in a moment.",
        error_code="DATABASE_UNAVAILABLE",
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return fhir_response(operation_outcome([issue]), 503, headers)


def internal_error() -> Response:
    """The answer to anything unexpected (app.api.middleware sends it and logs the failure)."""
    issue = Issue(
        severity="fatal",
        code="exception",
        diagnostics="The gateway could not complete this request. Nothing was changed.",
        error_code="INTERNAL_ERROR",
    )
    return fhir_response(operation_outcome([issue]), 500)
