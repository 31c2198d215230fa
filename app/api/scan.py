"""The lab desk's scan: a photo of the QR or a hand scanner's text, answered like a pull."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.api.deps import (
    LookUp,
    base_url,
    client_address,
    engine_of,
    fhir_response,
    read_body,
    reader_of,
    requires,
    self_link,
    settings_of,
)
from app.domain.errors import error
from app.fhir.body import media_type
from app.qr.decode import find_qr_texts
from app.qr.scanned_text import epu_from_qr_texts, epu_from_scanned_text
from app.security.caller import Caller, Role
from app.workflow.pull import EVERYTHING, pull

router = APIRouter(tags=["lab"])

IMAGE_TYPES = {"image/png", "image/jpeg"}
TEXT_TYPES = {"text/plain"}
MULTIPART = "multipart/form-data"


@router.post(
    "/fhir/$scan",
    summary="Find a prescription from a QR photo (PNG, JPEG, multipart) or scanner text",
)
async def scan(
    request: Request, caller: Caller = requires(Role.LAB, look_up=LookUp.GUARDED)
) -> Response:
    settings = settings_of(request)
    kind = media_type(request.headers.get("content-type"))
    if kind not in IMAGE_TYPES | TEXT_TYPES | {MULTIPART}:
        raise error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "$scan takes image/png, image/jpeg, multipart/form-data with one file, or "
            "text/plain (what a hand scanner typed).",
            issue_type="not-supported",
        )
    body = await read_body(request, settings.max_image_bytes)
    if kind in TEXT_TYPES:
        epu = epu_from_scanned_text(_text(body))
    else:
        image = body if kind in IMAGE_TYPES else await _uploaded_file(request, body)
        texts = await run_in_threadpool(find_qr_texts, image)
        epu = epu_from_qr_texts(texts)
    answer = await pull(
        reader_of(request),
        engine_of(request),
        base_url(request),
        caller,
        epu,
        EVERYTHING,
        self_link(request),
        client_address(request),
        "body",
    )
    return fhir_response(answer)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        # Scanners configured for Windows code pages send Latin-1 (AZERTY damage lives there).
        return body.decode("latin-1")


async def _uploaded_file(request: Request, body: bytes) -> bytes:
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=10).parse()
    except MultiPartException as exc:
        raise error(400, "INVALID_MULTIPART", f"The multipart body cannot be read: {exc.message}",
                    "body", issue_type="structure") from None  # fmt: skip
    for _name, value in form.multi_items():
        if isinstance(value, UploadFile):
            return await value.read()
    raise error(400, "NO_FILE", "The multipart body holds no file.", "body", issue_type="required")
