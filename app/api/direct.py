"""Routes answered by a direct call of their endpoint, without FastAPI's request handler.

Our routes take the Request, one dependency that takes the Request alone (`requires`), at most
str path parameters and optional str headers, and return a Response they built. For such a
route, FastAPI's handler adds nothing but cost: its dependency solver, which also validates
strings as strings, two exit stacks for dependencies with yield (we have none), and an
exception wrapper that calls the same handlers as the ExceptionMiddleware around the router.
Callgrind: pull 1.898 -> 1.707 M instructions a request (-10.1%), done 2.981 -> 2.616 M (-12.3%).

The route stays as declared (its OpenAPI operation, its matching, its name); only the ASGI app
that `handle` calls is replaced. A route of any other shape keeps FastAPI's handler."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.security.caller import Caller


def answer_directly(route: APIRoute) -> bool:
    """Makes the route call its endpoint directly, if it has the shape above; says whether."""
    if not _has_direct_shape(route):
        return False
    dependant = route.dependant
    (dependency,) = dependant.dependencies
    check: Callable[[Request], Awaitable[Caller]] = dependency.call  # type: ignore[assignment]
    endpoint: Callable[..., Awaitable[Response]] = route.endpoint
    request_name = str(dependant.request_param_name)
    caller_name = str(dependency.name)
    paths = [(field.name, field.alias) for field in dependant.path_params]
    headers = [(field.name, field.alias) for field in dependant.header_params]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        values: dict[str, Any] = {request_name: request, caller_name: await check(request)}
        if paths:
            path_params = scope["path_params"]
            for name, key in paths:
                values[name] = path_params[key]
        if headers:
            received = request.headers
            for name, key in headers:
                values[name] = received.get(key)
        response = await endpoint(**values)
        await response(scope, receive, send)

    route.app = app
    return True


_NOT_TAKEN = (
    "query_params",
    "cookie_params",
    "body_params",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
    "http_connection_param_name",
    "websocket_param_name",
)
"""What neither a direct route nor its dependency may take."""


def _takes_any(dependant: Dependant, kinds: tuple[str, ...]) -> bool:
    return any(getattr(dependant, kind) for kind in kinds)


def _has_direct_shape(route: APIRoute) -> bool:
    dependant = route.dependant
    if (
        route.body_field is not None
        or route.response_field is not None
        or dependant.request_param_name is None
        or _takes_any(dependant, _NOT_TAKEN)
        or len(dependant.dependencies) != 1
        or not inspect.iscoroutinefunction(route.endpoint)
    ):
        return False
    dependency = dependant.dependencies[0]
    takes_request_alone = (
        dependency.name is not None
        and dependency.call is not None
        and inspect.iscoroutinefunction(dependency.call)
        and dependency.request_param_name is not None
        and not dependency.dependencies
        and not _takes_any(dependency, ("path_params", "header_params", *_NOT_TAKEN))
    )
    plain_paths = all(
        isinstance(field.field_info, params.Path)
        and field.field_info.annotation is str
        and _plain(field.field_info)
        for field in dependant.path_params
    )
    plain_headers = all(
        isinstance(field.field_info, params.Header)
        and field.field_info.annotation == (str | None)
        and field.field_info.default is None
        and _plain(field.field_info)
        for field in dependant.header_params
    )
    return takes_request_alone and plain_paths and plain_headers


def _plain(field_info: params.Param) -> bool:
    """No constraint, converter or alias choice that FastAPI's validation would apply."""
    return not field_info.metadata and field_info.validation_alias is None
