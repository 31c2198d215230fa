"""The fonts documents are set in: DejaVu when installed (every French accent, a real monospace for
the EPU code), else the PDF base-14 fonts, registered once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class DocumentFonts:
    """Registered font names; `regular` is also a family, so `<b>` and `<i>` work in Paragraphs."""

    regular: str
    bold: str
    italic: str
    mono: str


_BASE14 = DocumentFonts(
    regular="Helvetica", bold="Helvetica-Bold", italic="Helvetica-Oblique", mono="Courier-Bold"
)

_DEJAVU_FILES = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono-Bold": "DejaVuSansMono-Bold.ttf",
}


@cache
def document_fonts(font_dir: Path = DEJAVU_DIR) -> DocumentFonts:
    """Register DejaVu from `font_dir` (parsing a TTF costs milliseconds, hence the cache), or fall
    back to Helvetica/Courier when any file is missing."""
    paths = {name: font_dir / file for name, file in _DEJAVU_FILES.items()}
    if not all(path.is_file() for path in paths.values()):
        return _BASE14
    for name, path in paths.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    family = "DejaVuSans"
    addMapping(family, 0, 0, family)
    addMapping(family, 1, 0, "DejaVuSans-Bold")
    addMapping(family, 0, 1, "DejaVuSans-Oblique")
    addMapping(family, 1, 1, "DejaVuSans-BoldOblique")
    return DocumentFonts(
        regular=family,
        bold="DejaVuSans-Bold",
        italic="DejaVuSans-Oblique",
        mono="DejaVuSansMono-Bold",
    )
