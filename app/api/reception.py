"""The lab desk's reception page: static files (no build step, nothing from outside the gateway)
that sign in with a lab token and call the FHIR API like any lab software.

The page and its assets answer without a token (they hold no data); every data call the page
makes carries the lab's bearer token."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

router = APIRouter(tags=["reception"], include_in_schema=False)

PAGES = Path(__file__).resolve().parents[1] / "web" / "reception"
ASSETS = {
    "reception.js": "text/javascript; charset=utf-8",
    "reception.css": "text/css; charset=utf-8",
}
# The page's own policy, so a global default (stricter, for API answers) does not replace it:
# scripts and styles from the gateway only, photos as blob:/data: previews, the webcam's stream.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on each load, so a fixed page reaches every desk at the next reload.
    "Cache-Control": "no-cache",
}


def _file(name: str, media_type: str) -> Response:
    return Response((PAGES / name).read_bytes(), media_type=media_type, headers=PAGE_HEADERS)


@router.get("/reception")
@router.get("/reception/")
def reception_page() -> Response:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/reception/{name}")
def reception_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404)
    return _file(name, media_type)
