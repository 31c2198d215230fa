"""What gets printed: the QR code of an EPU and the ordonnance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import (
    NO_STORE,
    LookUp,
    client_address,
    engine_of,
    requires,
    terminology_of,
)
from app.domain import epu_id
from app.qr.encode import qr_png, qr_svg
from app.security.caller import Caller, Role
from app.store.database import transaction
from app.workflow.access import find_for
from app.workflow.document import ordonnance_pdf

router = APIRouter(tags=["documents"])


def visible_epu(request: Request, caller: Caller, epu: str) -> str:
    """The EPU of the path, normalised, if the caller may see that prescription."""
    normalised = epu_id.normalise(epu, "epu")
    with transaction(engine_of(request)) as session:
        find_for(session, caller, normalised)
    return normalised


@router.get(
    "/epu/{epu}/qr.png",
    summary="The prescription's QR code as PNG",
)
def qr_code_png(
    request: Request, epu: str, caller: Caller = requires(*Role, look_up=LookUp.GUARDED)
) -> Response:
    png = qr_png(visible_epu(request, caller, epu))
    return Response(png, media_type="image/png", headers=NO_STORE)


@router.get(
    "/epu/{epu}/qr.svg",
    summary="The prescription's QR code as SVG",
)
def qr_code_svg(
    request: Request, epu: str, caller: Caller = requires(*Role, look_up=LookUp.GUARDED)
) -> Response:
    svg = qr_svg(visible_epu(request, caller, epu))
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.get(
    "/epu/{epu}/ordonnance.pdf",
    summary="The printable ordonnance (its prescriber only)",
)
def ordonnance(
    request: Request, epu: str, caller: Caller = requires(Role.PRESCRIBER, look_up=LookUp.GUARDED)
) -> Response:
    normalised = epu_id.normalise(epu, "epu")
    pdf = ordonnance_pdf(
        engine_of(request), terminology_of(request), caller, normalised, client_address(request)
    )
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="ordonnance-{normalised}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
