"""Fixtures for the printed documents: sample prescribers, and a `printed` helper that renders an
ordonnance and reads it back the way a lab would, through poppler (text) and pyzbar (QR)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from app.documents.ordonnance import Ordonnance, Prescriber, render_ordonnance


@dataclass(frozen=True)
class Printed:
    """An ordonnance as rendered, then read back."""

    pdf: bytes
    page_texts: list[str]  # pdftotext -layout, one string per page
    page_qr_payloads: list[list[str]]  # what pyzbar decodes on each page image at 150 dpi

    @property
    def text(self) -> str:
        """All pages with whitespace collapsed, so text wrapped over lines reads as one run."""
        return " ".join("\n".join(self.page_texts).split())


@pytest.fixture
def prescriber() -> Prescriber:
    return Prescriber(
        name="Dr Camille Lefèvre",
        rpps="10101234567",
        specialty="Médecine générale",
        address_lines=("Cabinet médical des Tilleuls", "12 rue de l'Église", "69003 Lyon"),
        phone="04 78 12 34 56",
        email="c.lefevre@cabinet-tilleuls.fr",
    )


@pytest.fixture
def printed(tmp_path: Path) -> Callable[[Ordonnance], Printed]:
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftoppm, pdftotext) is not installed: cannot read PDFs back")

    def render_and_read(ordonnance: Ordonnance) -> Printed:
        pdf = render_ordonnance(ordonnance)
        pdf_path = tmp_path / "ordonnance.pdf"
        pdf_path.write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf_path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", str(pdf_path), str(tmp_path / "page")], check=True
        )
        images = sorted(tmp_path.glob("page-*.png"))
        payloads = [
            [symbol.data.decode("ascii") for symbol in decode(Image.open(image))]
            for image in images
        ]
        # pdftotext ends every page with a form feed.
        page_texts = text.split("\f")[: len(images)]
        return Printed(pdf=pdf, page_texts=page_texts, page_qr_payloads=payloads)

    return render_and_read
