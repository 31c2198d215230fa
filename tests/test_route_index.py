"""The route index picks the route the router's walk through every route would have picked,
for every route of the application and the paths around them."""

from __future__ import annotations

import itertools

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route

from app.api.route_index import RouteIndex
from app.main import create_app

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
VALUES = ("x1", "Task", "ServiceRequest", "$expand", "$validate-code", "$claim", "_history")
"""What a path parameter is filled with: ids, resource types, and the literal segments other
routes use, where the order of the routes decides."""


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def _paths(routes: list[BaseRoute]) -> set[str]:
    paths = {"/", "/fhir", "/fhir/", "/nowhere", "/fhir/Task/$claim/more", "/reception/"}
    for route in routes:
        assert isinstance(route, Route)
        names = list(route.param_convertors)
        for values in itertools.product(VALUES, repeat=len(names)):
            paths.add(route.path.format(**dict(zip(names, values, strict=True))))
    return paths


def _walked(routes: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    """The router's own choice: the first route that matches fully."""
    for route in routes:
        if route.matches(scope)[0] == Match.FULL:
            return route
    return None


def test_the_index_is_first_and_picks_what_the_router_would(app: FastAPI) -> None:
    index, *routes = app.router.routes
    assert isinstance(index, RouteIndex)
    checked = 0
    for method, path in itertools.product(METHODS, sorted(_paths(routes))):
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        match, child_scope = index.matches(scope)
        picked = child_scope["route"] if match == Match.FULL else None
        assert picked is _walked(routes, scope), (method, path)
        checked += 1
    assert checked > 1000


def test_an_unknown_method_or_path_is_left_to_the_router(app: FastAPI) -> None:
    index = app.router.routes[0]
    for method, path in (("DELETE", "/fhir/Task/x1"), ("GET", "/nowhere")):
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        assert index.matches(scope) == (Match.NONE, {})


def _endpoint() -> None:  # never called: only matching is tested
    raise AssertionError


def test_a_route_with_parameters_before_a_fixed_path_keeps_its_precedence() -> None:
    item = Route("/items/{item_id}", _endpoint, methods=["GET"])
    special = Route("/items/special", _endpoint, methods=["GET", "POST"])
    other = Route("/other/{name}", _endpoint, methods=["GET"])
    index = RouteIndex([item, special, other])

    def picked(method: str, path: str) -> BaseRoute | None:
        match, child_scope = index.matches({"type": "http", "method": method, "path": path})
        return child_scope["route"] if match == Match.FULL else None

    assert picked("GET", "/items/special") is item  # first in order, as the router would
    assert picked("POST", "/items/special") is special  # no route before it takes POST
    assert picked("GET", "/other/x") is other
    assert picked("PUT", "/items/special") is None
