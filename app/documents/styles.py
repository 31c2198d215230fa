"""Paragraph styles of the printed documents, built once per font set."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from app.documents.fonts import DocumentFonts

MUTED = colors.HexColor("#444444")
RULE = colors.HexColor("#888888")
ZONE_BACKGROUND = colors.HexColor("#e8e8e8")
LINE_INDENT = 7 * mm


@dataclass(frozen=True)
class Styles:
    fonts: DocumentFonts
    prescriber_name: Any
    prescriber_detail: Any
    date: Any
    box_label: Any
    title: Any
    zone_heading: Any
    line_head: Any
    line_detail: Any
    signature: Any
    continuation: Any
    lab_advice: Any
    privacy: Any
    caption: Any


@cache
def styles_for(fonts: DocumentFonts) -> Styles:
    def style(name: str, **attributes: Any) -> ParagraphStyle:
        attributes.setdefault("fontName", fonts.regular)
        return ParagraphStyle(name, **attributes)

    return Styles(
        fonts=fonts,
        prescriber_name=style("prescriber_name", fontName=fonts.bold, fontSize=12, leading=15),
        prescriber_detail=style("prescriber_detail", fontSize=9, leading=11.5),
        date=style("date", fontSize=10, leading=13, alignment=TA_RIGHT, spaceAfter=3),
        box_label=style("box_label", fontName=fonts.bold, fontSize=9, leading=11),
        title=style(
            "title",
            fontName=fonts.bold,
            fontSize=13.5,
            leading=17,
            alignment=TA_CENTER,
            spaceBefore=9,
            spaceAfter=9,
        ),
        zone_heading=style(
            "zone_heading",
            fontName=fonts.bold,
            fontSize=8.5,
            leading=11,
            backColor=ZONE_BACKGROUND,
            # Indents as wide as the padding keep the shaded band within the page's margins.
            borderPadding=(3, 4, 3, 4),
            leftIndent=4,
            rightIndent=4,
            spaceBefore=6,
            spaceAfter=8,
            keepWithNext=1,
        ),
        # The hanging indent leaves room for the line number set as the paragraph's bullet.
        line_head=style(
            "line_head", fontSize=10.5, leading=13.5, leftIndent=LINE_INDENT, bulletIndent=0
        ),
        line_detail=style(
            "line_detail", fontSize=8.5, leading=11, leftIndent=LINE_INDENT, textColor=MUTED
        ),
        continuation=style(
            "continuation", fontName=fonts.italic, fontSize=8.5, leading=11, spaceAfter=5
        ),
        signature=style("signature", fontSize=8.5, leading=11, alignment=TA_RIGHT),
        lab_advice=style("lab_advice", fontName=fonts.bold, fontSize=8, leading=10),
        privacy=style("privacy", fontSize=7, leading=8.5, textColor=MUTED),
        caption=style("caption", fontSize=7.5, leading=9, alignment=TA_CENTER),
    )
