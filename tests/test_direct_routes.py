"""Which routes are answered by a direct call of their endpoint (app.api.direct)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.direct import answer_directly
from app.config import Settings
from app.main import create_app


def route(app: FastAPI, method: str, path: str) -> APIRoute:
    return next(
        r
        for r in app.router.routes
        if isinstance(r, APIRoute) and r.path == path and method in r.methods
    )


def test_the_pull_and_the_line_update_skip_fastapis_handler() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    for method, path in [
        ("GET", "/fhir/ServiceRequest"),
        ("PUT", "/fhir/Task/{task_id}"),
        ("POST", "/fhir/Task/$claim"),
        ("POST", "/fhir"),
    ]:
        assert route(app, method, path).app.__module__ == "app.api.direct", (method, path)


def test_a_route_with_query_parameters_keeps_fastapis_handler() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    expand = route(app, "GET", "/fhir/ValueSet/$expand")
    assert answer_directly(expand) is False
    assert expand.app.__module__ != "app.api.direct"
