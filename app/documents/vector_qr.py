"""The EPU QR code drawn as vector rectangles on a PDF canvas, so it prints sharp at any size."""

from __future__ import annotations

from typing import Any

import segno

from app.domain.epu_id import qr_content

QUIET_ZONE_MODULES = 4


def epu_qr(epu: str) -> segno.QRCode:
    """The QR of DESIGN section 3: `EPU:` + ID, version 2, level Q, alphanumeric mode."""
    return segno.make_qr(
        qr_content(epu), version=2, error="q", boost_error=False, mode="alphanumeric"
    )


def qr_side(qr: segno.QRCode, module: float) -> float:
    """Width of the drawn code, quiet zone included, for modules of `module` points."""
    width, _ = qr.symbol_size(border=QUIET_ZONE_MODULES)
    return float(width) * module


def draw_qr(canvas: Any, qr: segno.QRCode, x: float, y: float, module: float) -> None:
    """Draw `qr` with its lower-left quiet-zone corner at (`x`, `y`).

    Each horizontal run of dark modules is one filled rectangle: adjacent per-module rectangles
    leave hairline seams in some rasterisers, and those seams can break a scan. Coordinates are
    in modules, scaled once, which keeps the content stream short.
    """
    rows = list(qr.matrix_iter(border=QUIET_ZONE_MODULES))
    path = canvas.beginPath()
    for row_index, row in enumerate(rows):
        row_y = len(rows) - 1 - row_index
        start: int | None = None
        for column, dark in enumerate((*row, 0)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                path.rect(start, row_y, column - start, 1)
                start = None
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()
