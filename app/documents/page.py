"""What every page of the ordonnance carries around its flowing content: the prescriber and the QR
at the top, the patient advice, the privacy notice and `page N/M` at the bottom."""

from __future__ import annotations

from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

from app.documents.styles import RULE, Styles
from app.documents.vector_qr import QUIET_ZONE_MODULES, draw_qr, epu_qr, qr_side
from app.domain.epu_id import grouped

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 15 * mm
MARGIN_TOP = 12 * mm
MARGIN_BOTTOM = 9 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
# 25 modules of 1.2 mm: a 30 mm symbol, which phone cameras and lab scanners read from a desk.
QR_MODULE = 1.2 * mm
CODE_FONT_SIZE = 10
HEADER_GAP = 8 * mm
BLOCK_GAP = 4 * mm
PAGE_COUNT_FORM = "epu-page-count"
QR_FORM = "epu-qr"
QR_CAPTION = "E-prescription unifiée"


class PageFurniture:
    """Draws the fixed parts of each page (as a PageTemplate `onPage` callback) and tells the body
    frame where it may flow."""

    def __init__(
        self,
        epu: str,
        prescriber_block: list[Paragraph],
        footer_block: list[Paragraph],
        styles: Styles,
    ) -> None:
        self._styles = styles
        self._qr = epu_qr(epu)
        self._code = grouped(epu)
        self._caption = Paragraph(QR_CAPTION, styles.caption)
        code_width = stringWidth(self._code, styles.fonts.mono, CODE_FONT_SIZE)
        self._qr_column = max(code_width, qr_side(self._qr, QR_MODULE))
        self._prescriber = _stacked(prescriber_block, CONTENT_WIDTH - self._qr_column - HEADER_GAP)
        self._footer = _stacked(footer_block, CONTENT_WIDTH)
        qr_block_height = (
            qr_side(self._qr, QR_MODULE)
            - QUIET_ZONE_MODULES * QR_MODULE  # the top quiet zone lies in the page margin
            + CODE_FONT_SIZE * 1.3
            + self._caption.wrap(self._qr_column, PAGE_HEIGHT)[1]
        )
        header_height = max(qr_block_height, sum(height for _, height in self._prescriber))
        self.body_top = PAGE_HEIGHT - MARGIN_TOP - header_height - BLOCK_GAP
        page_number_height = 10
        footer_height = sum(height for _, height in self._footer) + page_number_height
        self.body_bottom = MARGIN_BOTTOM + footer_height + BLOCK_GAP

    def draw(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        self._draw_header(canvas)
        self._draw_footer(canvas, doc.page)
        canvas.restoreState()

    def define_page_count(self, canvas: Any) -> None:
        """Fill in the `M` of every page's `page N/M`; call it once the last page is reached.

        Each page shows a form XObject for M, which the PDF lets us define after the pages that
        use it: one layout pass instead of two.
        """
        canvas.beginForm(PAGE_COUNT_FORM)
        canvas.setFont(self._styles.fonts.regular, 8)
        canvas.drawString(0, 0, str(canvas.getPageNumber()))
        canvas.endForm()

    def _draw_header(self, canvas: Any) -> None:
        top = PAGE_HEIGHT - MARGIN_TOP
        y = top
        for paragraph, height in self._prescriber:
            y -= height
            paragraph.drawOn(canvas, MARGIN_X, y)

        column_left = PAGE_WIDTH - MARGIN_X - self._qr_column
        side = qr_side(self._qr, QR_MODULE)
        quiet = QUIET_ZONE_MODULES * QR_MODULE
        qr_left = column_left + (self._qr_column - side) / 2
        qr_bottom = top + quiet - side
        if not canvas.hasForm(QR_FORM):
            # Drawn once per document and shown on every page.
            canvas.beginForm(QR_FORM)
            draw_qr(canvas, self._qr, 0, 0, QR_MODULE)
            canvas.endForm()
        canvas.saveState()
        canvas.translate(qr_left, qr_bottom)
        canvas.doForm(QR_FORM)
        canvas.restoreState()
        code_baseline = qr_bottom + quiet - CODE_FONT_SIZE * 1.1
        canvas.setFont(self._styles.fonts.mono, CODE_FONT_SIZE)
        canvas.drawCentredString(column_left + self._qr_column / 2, code_baseline, self._code)
        _, caption_height = self._caption.wrap(self._qr_column, PAGE_HEIGHT)
        self._caption.drawOn(canvas, column_left, code_baseline - 2 - caption_height)

        rule_y = self.body_top + BLOCK_GAP / 2
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, rule_y, PAGE_WIDTH - MARGIN_X, rule_y)

    def _draw_footer(self, canvas: Any, page: int) -> None:
        rule_y = self.body_bottom - BLOCK_GAP / 2
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, rule_y, PAGE_WIDTH - MARGIN_X, rule_y)
        y = rule_y - BLOCK_GAP / 2
        for paragraph, height in self._footer:
            y -= height
            paragraph.drawOn(canvas, MARGIN_X, y)

        label = f"page {page}/"
        canvas.setFont(self._styles.fonts.regular, 8)
        # Right edge fixed for up to two digits of M.
        x = PAGE_WIDTH - MARGIN_X - stringWidth(label + "00", self._styles.fonts.regular, 8)
        canvas.drawString(x, MARGIN_BOTTOM, label)
        canvas.saveState()
        canvas.translate(x + stringWidth(label, self._styles.fonts.regular, 8), MARGIN_BOTTOM)
        canvas.doForm(PAGE_COUNT_FORM)
        canvas.restoreState()


def _stacked(paragraphs: list[Paragraph], width: float) -> list[tuple[Paragraph, float]]:
    """Each paragraph wrapped to `width`, with the height it takes including its spacing."""
    placed = []
    for paragraph in paragraphs:
        _, height = paragraph.wrap(width, PAGE_HEIGHT)
        placed.append((paragraph, height + paragraph.getSpaceAfter()))
    return placed
