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


def security_headers(path: str, present: set[str]) -> dict[str, str]:
    """Headers to set on the answer to `path`, given the (lower-case) names it already has.

    A page that brings its own Content-Security-Policy keeps it; everything else gets the
    strictest one, since API answers load nothing."""
    headers = dict(ALWAYS)
    if "content-security-policy" not in present:
        docs = path.startswith(DOCS_PATHS)
        headers["content-security-policy"] = DOCS_POLICY if docs else API_POLICY
    if path == "/fhir" or path.startswith(NO_STORE_PREFIXES):
        headers["cache-control"] = "no-store"
    return headers


def raw_security_headers(path: str, present: set[bytes]) -> dict[bytes, bytes]:
    """The same, as ASGI raw header names and values (names lower-case), for the middleware."""
    docs = path.startswith(DOCS_PATHS)
    no_store = path == "/fhir" or path.startswith(NO_STORE_PREFIXES)
    return _encoded(docs, no_store, b"content-security-policy" in present)


@functools.cache
def _encoded(docs: bool, no_store: bool, has_policy: bool) -> dict[bytes, bytes]:
    path = DOCS_PATHS[0] if docs else NO_STORE_PREFIXES[0] if no_store else "/"
    present = {"content-security-policy"} if has_policy else set()
    return {
        name.encode("latin-1"): value.encode("latin-1")
        for name, value in security_headers(path, present).items()
    }
