"""Builds the gateway application: routers, error handling, and what starts with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig

from app.api import (
    documents,
    lab,
    prescriber,
    reception,
    scan,
    status,
    system,
    terminology,
    workflow,
)
from app.api.direct import answer_directly
from app.api.errors import install_error_handlers
from app.api.middleware import GatewayMiddleware
from app.api.route_index import RouteIndex
from app.config import Settings, get_settings
from app.fhir.structure import warm_up
from app.logs import configure_logging
from app.security.audit_journal import close_journal, use_loop_journal
from app.security.rate_stores import limiters
from app.security.tokens import TokenVerifier
from app.store.async_reads import PostgresReader, open_reader
from app.store.changes import changes_for
from app.store.database import create_database_engine
from app.store.migrate import migrate
from app.terminology.current import CurrentTerminology
from app.terminology.loader import load_default

NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
"""FastAPI's own OpenTelemetry, off: once an OpenTelemetry SDK is configured in the process, it
records exception messages, stack traces and request values, which may carry patient data. The
gateway's logs are its JSON lines (app.logs). Off, it also stops asking for the providers on
every request (1% of a pull's instructions)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_database_engine(settings)
        migrate(engine)
        app.state.engine = engine
        current = CurrentTerminology(engine, load_default(), settings.terminology_refresh_seconds)
        current.refresh()
        app.state.terminology = current
        app.state.verifier = TokenVerifier(settings)
        app.state.reader = reader = await open_reader(engine)
        app.state.changes = changes = changes_for(engine)
        await changes.open()
        if isinstance(reader, PostgresReader):
            use_loop_journal(engine, reader)
        app.state.lookup_limiter, app.state.request_budget = limiters(settings, engine, reader)
        warm_up()
        yield
        close_journal(engine)
        await reader.close()
        await changes.close()
        engine.dispose()

    app = FastAPI(
        title="epu-gateway",
        summary="National base for the unified e-prescription (EPU) of medical biology, FHIR R4",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(GatewayMiddleware)
    # terminology comes before status, whose /fhir/{type}/{id} read would take $expand for an id.
    for module in (
        system,
        prescriber,
        lab,
        scan,
        workflow,
        documents,
        terminology,
        status,
        reception,
    ):
        add_routes(app, module.router)
    app.router.routes.insert(0, RouteIndex(app.router.routes))
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, on the application's own router.

    Not `include_router`: since FastAPI 0.165 an included router stays a router of its own, and
    every request goes through each of them in turn, matches its route there, then matches it
    again to handle it (5% of a pull's instructions, 6% of a done's). Our routers add no prefix,
    dependency or setting of their own to include.

    Each route that can be is answered by a direct call of its endpoint (app.api.direct)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            answer_directly(route)
    app.router.routes.extend(router.routes)
