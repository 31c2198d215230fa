"""The EPU QR code, `EPU:` + ID in alphanumeric mode, version 2, correction level Q: PNG, SVG."""

from __future__ import annotations

import io

import segno

from app.domain import epu_id

# The ISO 18004 minimum: readers need four light modules around the symbol to find its edges.
QUIET_ZONE = 4
VERSION = 2
ERROR_CORRECTION = "q"


def qr_code(epu: str) -> segno.QRCode:
    """The QR code of an EPU ID (any accepted spelling; a malformed one raises the usual 400).

    Normalising first keeps the content upper case, which alphanumeric mode needs.
    """
    content = epu_id.qr_content(epu_id.normalise(epu))
    return segno.make_qr(
        content, version=VERSION, error=ERROR_CORRECTION, boost_error=False, mode="alphanumeric"
    )


def qr_png(epu: str, scale: int = 8) -> bytes:
    """PNG of the code, `scale` pixels per module, black on white, with the quiet zone."""
    buffer = io.BytesIO()
    qr_code(epu).save(buffer, kind="png", scale=scale, border=QUIET_ZONE, dark="#000", light="#fff")
    return buffer.getvalue()


def qr_svg(epu: str) -> bytes:
    """SVG of the code in module units (viewBox 0 0 33 33), sized by whoever embeds it.

    The white background is explicit so the quiet zone survives on a coloured page.
    """
    buffer = io.BytesIO()
    qr_code(epu).save(
        buffer, kind="svg", border=QUIET_ZONE, omitsize=True, dark="#000", light="#fff"
    )
    return buffer.getvalue()
