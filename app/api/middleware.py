"""Around every request: a request id, the security headers, one JSON log line, and a bare 500
for anything unexpected (logged by exception type only, never with its message or trace)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import internal_error
from app.security.headers import security_headers

REQUEST_ID = "x-request-id"
_REQUEST_ID = REQUEST_ID.encode()
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNMATCHED = "-"

log = logging.getLogger("epu.request")


def request_id_for(incoming: str | None) -> str:
    """The client's request id if it is sane (it ends up in our logs), else a new one."""
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class GatewayMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).get(REQUEST_ID))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        answered: list[int] = []

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(message["status"])
                # On the raw list: MutableHeaders scans it again for every header it sets.
                raw = message.get("headers") or []
                added = security_headers(scope["path"], {name.lower() for name, _ in raw})
                message["headers"] = [
                    *((name, value) for name, value in raw
                      if name.lower() not in added and name.lower() != _REQUEST_ID),
                    *added.items(),
                    (_REQUEST_ID, request_id.encode("latin-1")),
                ]  # fmt: skip
            await send(message)

        error_type = None
        try:
            await self.app(scope, receive, send_hardened)
        except Exception as unexpected:
            error_type = type(unexpected).__name__
            if not answered:
                await internal_error()(scope, receive, send_hardened)
        finally:
            route = scope.get("route")
            caller = state.get("caller")
            level = logging.ERROR if error_type else logging.INFO
            log.log(
                level,
                "unexpected error" if error_type else "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": getattr(route, "path", UNMATCHED),
                    "status": answered[0] if answered else 500,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "role": caller.role.value if caller is not None else None,
                    "error_type": error_type,
                },
            )
