"""What routers depend on: settings, the database, the caller's identity, body reading, answers."""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Engine

from app.config import Settings
from app.domain.errors import GatewayError, error
from app.fhir.body import FHIR_JSON, parse_json, require_json_content_type, too_large
from app.security.caller import Caller, Role
from app.security.rate_limit import Client, LookupLimiter, RequestBudget, is_failed_lookup
from app.security.tokens import TokenVerifier, unauthorised
from app.store.async_reads import Reader
from app.store.changes import Changes
from app.terminology.current import CurrentTerminology
from app.terminology.index import Terminology

NO_STORE = {"Cache-Control": "no-store"}
JSON_PATCH = "application/json-patch+json"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def changes_of(request: Request) -> Changes:
    changes: Changes = request.app.state.changes
    return changes


def reader_of(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


def terminology_of(request: Request) -> Terminology:
    """The release active now (an import elsewhere shows within terminology_refresh_seconds)."""
    current: CurrentTerminology = request.app.state.terminology
    return current.get()


async def caller_of(request: Request) -> Caller:
    """The verified caller, or 401; then one request spent from its budget (or 429). The
    dependency of routes open to every role that look no EPU up; the others take `requires`.

    Async: a token seen before and a per-instance budget cost no I/O, so the common case takes no
    thread hop; a new token's signature check (which may fetch keys) and a Redis budget do."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorised("This endpoint needs a bearer token (Authorization: Bearer <JWT>).")
    verifier: TokenVerifier = request.app.state.verifier
    caller = verifier.already_verified(token)
    if caller is None:
        caller = await run_in_threadpool(verifier.verify, token)
    request.state.caller = caller  # for the request's log line
    budget: RequestBudget = request.app.state.request_budget
    if budget.blocking:
        await run_in_threadpool(budget.spend, caller.subject)
    else:
        budget.spend(caller.subject)
    return caller


def lookup_limiter_of(request: Request) -> LookupLimiter:
    limiter: LookupLimiter = request.app.state.lookup_limiter
    return limiter


def client_of(request: Request, caller: Caller) -> Client:
    """Who counts against the anti-guessing limit: the token's subject and the address."""
    return Client(caller.subject, client_address(request))


class LookUp(Enum):
    """How a route that looks an EPU up is guarded against guessing. Either way, every
    EPU_MALFORMED, EPU_CHECK_MISMATCH or EPU_UNKNOWN it raises is counted against its client
    (`count_failed_lookup`, from the error handler)."""

    GUARDED = "guarded"
    """A caller past its failure limit hears 429 before the route runs."""
    COUNTED = "counted"
    """The route checks the limit itself, with `looked_up_by`: the pull does it inside its own
    statement, which saves a round trip."""


def looked_up_by(request: Request) -> Client:
    """The anti-guessing client of a route that `requires(..., look_up=LookUp.COUNTED)`."""
    client: Client = request.state.lookup_client
    return client


async def count_failed_lookup(request: Request, refused: GatewayError) -> None:
    """Counts `refused` against its client if it is a failed look-up on a guarded route; the
    rare counting goes to the thread pool."""
    client: Client | None = getattr(request.state, "lookup_client", None)
    if client is not None and is_failed_lookup(refused):
        await run_in_threadpool(lookup_limiter_of(request).count_failure, client)


def requires(*roles: Role, look_up: LookUp | None = None) -> Any:
    """The dependency of a route: its verified caller (401 without a valid token, 429 past its
    request budget), if it has one of `roles` (403 for the others); for a route that looks an EPU
    up, with its anti-guessing guard (`look_up`).

    One dependency a route, which does all of it: FastAPI solves each dependency node at about
    70,000 instructions a request (callgrind; the pull's three nodes were a tenth of its 2.05 M).
    Async: the common case (a token seen before, a budget in memory) takes no thread hop."""

    async def check(request: Request) -> Caller:
        caller = await caller_of(request)
        if caller.role not in roles:
            raise error(
                403,
                "ROLE_NOT_ALLOWED",
                f"This operation is for {' or '.join(r.value for r in roles)} accounts, "
                f"not {caller.role.value}.",
                issue_type="forbidden",
            )
        if look_up is not None:
            client = client_of(request, caller)
            request.state.lookup_client = client
            if look_up is LookUp.GUARDED:
                await lookup_limiter_of(request).guard(client)
        return caller

    return Depends(check)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def fhir_json_body(request: Request) -> Any:
    settings = settings_of(request)
    require_json_content_type(request.headers.get("content-type"))
    return parse_json(await read_body(request, settings.max_json_bytes), settings.max_json_bytes)


async def json_patch_body(request: Request) -> list[Any]:
    settings = settings_of(request)
    require_json_content_type(request.headers.get("content-type"), {JSON_PATCH})
    patch = parse_json(await read_body(request, settings.max_json_bytes), settings.max_json_bytes)
    if not isinstance(patch, list):
        raise error(400, "INVALID_PATCH", "A JSON Patch is an array of operations.", "body")
    return patch


def fhir_response(
    content: bytes | dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = content if isinstance(content, bytes) else orjson.dumps(content)
    return Response(
        body, status_code=status_code, media_type=FHIR_JSON, headers={**NO_STORE, **(headers or {})}
    )


def base_url(request: Request) -> str:
    """The gateway's public address, without a trailing slash, for fullUrls and links."""
    return settings_of(request).public_base_url.rstrip("/")


def self_link(request: Request) -> str:
    # From the ASGI scope: building request.url parses the whole address again.
    query = request.scope["query_string"].decode("latin-1")
    return f"{base_url(request)}{request.scope['path']}{'?' + query if query else ''}"
