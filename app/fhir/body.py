"""Reading a request body as FHIR JSON: content type, size and syntax, checked before anything else."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.errors import GatewayError, error

FHIR_JSON = "application/fhir+json"
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
        # orjson refuses nesting deeper than 1,024 levels, so a 10,000-level document is a 400.
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise error(
            400,
            "MALFORMED_JSON",
            f"The body is not valid UTF-8 JSON: {exc.msg} at character {exc.pos}.",
            issue_type="structure",
        ) from None


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
