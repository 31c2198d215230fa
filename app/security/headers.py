"""The security headers every answer carries."""

from __future__ import annotations

import functools

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The interactive docs load Swagger UI / ReDoc from their CDN and run an inline bootstrap script.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
NO_STORE_PREFIXES = ("/fhir", "/epu/")

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def security_headers(path: str, present: set[bytes]) -> dict[bytes, bytes]:
    """Headers to set on the answer to `path`, as ASGI raw names and values, given the
    (lower-case) names it already has.

    A page that brings its own Content-Security-Policy keeps it; everything else gets the
    strictest one, since API answers load nothing."""
    return _headers(
        path.startswith(DOCS_PATHS),
        path == "/fhir" or path.startswith(NO_STORE_PREFIXES),
        b"content-security-policy" in present,
    )


@functools.cache
def _headers(docs: bool, no_store: bool, has_policy: bool) -> dict[bytes, bytes]:
    headers = dict(ALWAYS)
    if not has_policy:
        headers["content-security-policy"] = DOCS_POLICY if docs else API_POLICY
    if no_store:
        headers["cache-control"] = "no-store"
    return {name.encode("latin-1"): value.encode("latin-1") for name, value in headers.items()}
