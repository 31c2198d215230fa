"""Reading a request body as FHIR JSON: content type, size and syntax, checked before anything else."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.errors import GatewayError, error

FHIR_JSON = "application/fhir+json"
# Real FHIR documents nest a few dozen levels at most; deeper ones would only exhaust the
# recursion of the validators and walkers that follow (orjson itself stops at 1,024).
MAX_JSON_DEPTH = 64
_JSON_TYPES = {FHIR_JSON, "application/json"}


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_json_content_type(content_type: str | None, accepted: set[str] | None = None) -> None:
    allowed = accepted or _JSON_TYPES
    if media_type(content_type) not in allowed:
        raise error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type must be one of {', '.join(sorted(allowed))}.",
            issue_type="not-supported",
        )


def too_large(limit: int, what: str = "body") -> GatewayError:
    return error(
        413,
        "PAYLOAD_TOO_LARGE",
        f"The request {what} is larger than the {limit:,} bytes allowed.",
        issue_type="too-costly",
    )


def parse_json(body: bytes, max_bytes: int) -> Any:
    """The parsed document, or 413 for an oversized body and 400 for anything that is not JSON."""
    if len(body) > max_bytes:
        raise too_large(max_bytes)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise error(
            400,
            "MALFORMED_JSON",
            f"The body is not valid UTF-8 JSON: {exc.msg} at character {exc.pos}.",
            issue_type="structure",
        ) from None
    if _may_nest_too_deep(body) and nesting_depth(document) > MAX_JSON_DEPTH:
        raise error(
            400,
            "JSON_TOO_DEEP",
            f"The body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep.",
            issue_type="too-costly",
        )
    return document


def _may_nest_too_deep(body: bytes) -> bool:
    """Whether the body has the brackets to nest that deep: each level opens one, and counting
    them (those inside strings too) costs far less than walking the parsed document."""
    return body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH


def nesting_depth(document: Any) -> int:
    """How deep objects and arrays nest, found without recursion."""
    if not isinstance(document, dict | list):
        return 0
    deepest = 0
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def require_resource(document: Any, resource_type: str) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("resourceType") != resource_type:
        found = document.get("resourceType") if isinstance(document, dict) else None
        raise error(
            400,
            "WRONG_RESOURCE_TYPE",
            f"Expected a {resource_type} resource, got {found or 'something else'}.",
            "resourceType",
            issue_type="structure",
        )
    return document
