"""Given an upload that is too big, a bomb or not an image, the decoder refuses it before work."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.domain import epu_id
from app.domain.errors import GatewayError
from app.qr.decode import MAX_BYTES, find_qr_texts
from app.qr.encode import qr_png


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` gray pixels but carries only one row of them."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def refusal(image: bytes) -> tuple[int, str | None, tuple[str, ...]]:
    with pytest.raises(GatewayError) as refused:
        find_qr_texts(image)
    issue = refused.value.issues[0]
    return refused.value.status, issue.error_code, issue.expression


def photo_jpeg() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_a_body_over_10_mb_is_too_large() -> None:
    assert refusal(b"\xff" * (MAX_BYTES + 1)) == (413, "IMAGE_TOO_LARGE", ("body",))


def test_a_9000_by_9000_header_is_refused_as_a_bomb() -> None:
    bomb = png_header(9000, 9000)

    assert len(bomb) < 20_000
    assert refusal(bomb) == (413, "IMAGE_TOO_LARGE", ("body",))


def test_a_header_past_pillows_own_bomb_limit_is_too_large() -> None:
    assert refusal(png_header(15000, 15000))[:2] == (413, "IMAGE_TOO_LARGE")


def test_just_over_40_megapixels_is_too_large() -> None:
    assert refusal(png_header(8000, 5001))[:2] == (413, "IMAGE_TOO_LARGE")


def test_a_truncated_jpeg_is_unreadable() -> None:
    jpeg = photo_jpeg()

    assert refusal(jpeg[: len(jpeg) // 2]) == (400, "IMAGE_UNREADABLE", ("body",))


def test_random_bytes_are_unreadable() -> None:
    assert refusal(os.urandom(5000))[:2] == (400, "IMAGE_UNREADABLE")


def test_an_empty_body_is_unreadable() -> None:
    assert refusal(b"")[:2] == (400, "IMAGE_UNREADABLE")


def test_a_photo_without_a_code_gives_no_text() -> None:
    assert find_qr_texts(photo_jpeg()) == []


def test_a_served_png_reads_back() -> None:
    epu = epu_id.generate()

    assert find_qr_texts(qr_png(epu)) == ["EPU:" + epu]
