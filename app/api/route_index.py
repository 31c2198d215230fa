"""Finds a request's route by its method and path, instead of trying every route in turn.

FastAPI's router asks each route in order whether it matches, and a route that does not costs
about 11,000 instructions to say so (callgrind): a done, whose route came 13th, paid for 12
(6.7% of its instructions), a pull for 7. The index sits first in the application's routes.
For each method it knows the routes that take it, in their order; a route without parameters
is found by its path in a dict, unless a route before it could also take that path. The first
of them that matches fully is the route, as the router would have found it. When none does
(a wrong method, an unknown path), the index answers no match and the router goes on through
every route as before, so 404 and 405 come out exactly as they did.

The index is made from the routes as they stand when the application is built: a route added
later is still found, by the router's own walk, after the index said no."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send


class RouteIndex(BaseRoute):
    def __init__(self, routes: list[BaseRoute]) -> None:
        self._by_path: dict[tuple[str, str], Route] = {}
        self._with_parameters: dict[str, list[Route]] = defaultdict(list)
        for route in _leading_routes(routes):
            assert route.methods is not None
            for method in route.methods:
                earlier = self._with_parameters[method]
                if route.param_convertors:
                    earlier.append(route)
                elif not any(other.path_regex.match(route.path) for other in earlier):
                    self._by_path.setdefault((method, route.path), route)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        method = scope["method"]
        found = self._by_path.get((method, get_route_path(scope)))
        candidates = [found] if found is not None else self._with_parameters.get(method, ())
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                child_scope["route"] = route
                return match, child_scope
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)


def _leading_routes(routes: list[BaseRoute]) -> list[Route]:
    """The routes up to the first that is not a plain route for given methods (a mount, a
    route for any method): past it, which route comes first is the router's to tell."""
    leading = []
    for route in routes:
        if not isinstance(route, Route) or route.methods is None:
            break
        leading.append(route)
    return leading
