"""At the lab desk: a photo of the QR, a hand scanner's text, or a file upload finds the
prescription, exactly as a pull does."""

from __future__ import annotations

import io

import segno
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

from app.domain import epu_id
from app.qr.encode import qr_png
from tests.conftest import Tokens, issue_codes
from tests.scenarios.workflow_steps import new_prescription


def photo_of(epu: str, quality: int = 70) -> bytes:
    """The printed QR in a larger, slightly blurred, rotated JPEG, as a webcam takes it."""
    code = Image.open(io.BytesIO(qr_png(epu, scale=6))).convert("L")
    page = Image.new("L", (1600, 1200), 235)
    page.paste(code.rotate(7, expand=True, fillcolor=235), (500, 350))
    buffer = io.BytesIO()
    page.filter(ImageFilter.GaussianBlur(1.2)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def scan(client: TestClient, headers: dict[str, str], content: bytes, kind: str):  # type: ignore[no-untyped-def]
    return client.post("/fhir/$scan", content=content, headers={**headers, "Content-Type": kind})


def lines_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def test_a_photo_finds_the_same_prescription_as_a_pull(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    pulled = client.get(f"/fhir/ServiceRequest?requisition={epu}", headers=tokens.lab())

    response = scan(client, tokens.lab(), photo_of(epu), "image/jpeg")

    assert response.status_code == 200, response.text
    assert lines_of(response) == lines_of(pulled)


def test_scanner_text_in_every_form_finds_it(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    for typed in (f"EPU:{epu}\r\n", f"  {epu_id.grouped(epu)} ", epu.lower()):
        response = scan(client, tokens.lab(), typed.encode(), "text/plain")
        assert response.status_code == 200, typed


def test_a_file_upload_finds_it(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)

    response = client.post(
        "/fhir/$scan",
        files={"image": ("ordonnance.png", qr_png(epu), "image/png")},
        headers=tokens.lab(),
    )

    assert response.status_code == 200, response.text


def test_a_photo_without_a_qr_is_422(client: TestClient, tokens: Tokens) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 180, 160)).save(buffer, "PNG")

    response = scan(client, tokens.lab(), buffer.getvalue(), "image/png")

    assert (response.status_code, issue_codes(response)) == (422, ["QR_NOT_FOUND"])


def test_a_qr_that_is_not_ours_says_what_it_holds(client: TestClient, tokens: Tokens) -> None:
    buffer = io.BytesIO()
    segno.make_qr("https://example.org/menu\x07").save(buffer, kind="png", scale=8)

    response = scan(client, tokens.lab(), buffer.getvalue(), "image/png")

    assert response.status_code == 422
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert "example.org" in diagnostics and "\x07" not in diagnostics


def test_garbage_image_wrong_type_and_prescriber_role_are_refused(
    client: TestClient, tokens: Tokens
) -> None:
    assert (
        scan(client, tokens.lab(), b"\x89PNG\r\n\x1a\nnot really", "image/png").status_code == 400
    )
    assert scan(client, tokens.lab(), b"GIF89a", "image/gif").status_code == 415
    assert scan(client, tokens.prescriber(), b"EPU:x", "text/plain").status_code == 403


def test_an_image_over_ten_megabytes_is_413(client: TestClient, tokens: Tokens) -> None:
    response = scan(client, tokens.lab(), b"\xff\xd8" + b"\x00" * 10_000_001, "image/jpeg")
    assert response.status_code == 413


def test_a_decompression_bomb_and_a_truncated_jpeg_are_refused_and_the_desk_keeps_working(
    client: TestClient, tokens: Tokens
) -> None:
    from tests.qr.test_decode_guards import png_header

    epu = new_prescription(client, tokens)
    bomb = scan(client, tokens.lab(), png_header(20_000, 20_000), "image/png")
    truncated = scan(client, tokens.lab(), photo_of(epu)[:3000], "image/jpeg")

    assert (bomb.status_code, issue_codes(bomb)) == (413, ["IMAGE_TOO_LARGE"])
    assert truncated.status_code == 400
    assert scan(client, tokens.lab(), photo_of(epu), "image/jpeg").status_code == 200
