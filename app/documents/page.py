"""What every page of the ordonnance carries around its flowing content: the prescriber and the QR
at the top, the patient advice, the privacy notice and `page N/M` at the bottom, and on later
pages a "suite" banner naming the bizone zone that continues there."""

from __future__ import annotations

from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import CallerMacro, Frame, PageTemplate, Paragraph

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
    """Draws the fixed parts of each page and lays out the frames the story flows in.

    The story tells it where it stands through zero-size markers (`zone_marker`, `entry_marker`),
    so a later page can say which bizone zone it continues.
    """

    def __init__(
        self,
        epu: str,
        prescriber_block: list[Paragraph],
        footer_block: list[Paragraph],
        continuation: Paragraph,
        zone_banners: dict[str, Paragraph],
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
        self._continuation = _stacked([continuation], CONTENT_WIDTH)[0]
        self._zone_banners = {
            zone: _stacked([banner], CONTENT_WIDTH)[0] for zone, banner in zone_banners.items()
        }
        qr_block_height = (
            qr_side(self._qr, QR_MODULE)
            - QUIET_ZONE_MODULES * QR_MODULE  # the top quiet zone lies in the page margin
            + CODE_FONT_SIZE * 1.3
            + self._caption.wrap(self._qr_column, PAGE_HEIGHT)[1]
        )
        header_height = max(qr_block_height, sum(height for _, height in self._prescriber))
        self._body_top = PAGE_HEIGHT - MARGIN_TOP - header_height - BLOCK_GAP
        page_number_height = 10
        footer_height = sum(height for _, height in self._footer) + page_number_height
        self._body_bottom = MARGIN_BOTTOM + footer_height + BLOCK_GAP
        self._banner_height = (
            self._continuation[1]
            + max((height for _, height in self._zone_banners.values()), default=0)
            + BLOCK_GAP / 2
        )
        self._zone: str | None = None
        self._zone_at_page_start: str | None = None
        self._page_has_entries = False

    def page_templates(self) -> list[PageTemplate]:
        """The first page, and the later ones whose frame starts below the "suite" banner."""
        first = PageTemplate(
            id="first",
            frames=[self._frame(self._body_top)],
            onPage=self._begin_page,
            autoNextPageTemplate="later",
        )
        later = PageTemplate(
            id="later",
            frames=[self._frame(self._body_top - self._banner_height)],
            onPage=self._begin_page,
            onPageEnd=self._draw_banner,
        )
        return [first, later]

    def zone_marker(self, zone: str) -> CallerMacro:
        """Put just before a zone's heading: from here on, the story is in `zone`."""
        marker = CallerMacro(drawCallable=lambda _: self._enter_zone(zone))
        marker.keepWithNext = 1  # travels to the next page with the heading it announces
        return marker

    def entry_marker(self) -> CallerMacro:
        """Put inside each entry: the page it is drawn on holds (part of) an entry."""
        return CallerMacro(drawCallable=lambda _: self._note_entry())

    def page_count_marker(self) -> CallerMacro:
        """Put last in the story: the page it lands on is the last one."""
        return CallerMacro(drawCallable=lambda macro: self._define_page_count(macro.canv))

    def _enter_zone(self, zone: str) -> None:
        if not self._page_has_entries:
            # The zone's own heading opens this page: no banner for the zone before it.
            self._zone_at_page_start = None
        self._zone = zone

    def _note_entry(self) -> None:
        self._page_has_entries = True

    def _frame(self, top: float) -> Frame:
        return Frame(
            MARGIN_X,
            self._body_bottom,
            CONTENT_WIDTH,
            top - self._body_bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )

    def _begin_page(self, canvas: Any, doc: Any) -> None:
        self._zone_at_page_start = self._zone
        self._page_has_entries = False
        canvas.saveState()
        self._draw_header(canvas)
        self._draw_footer(canvas, doc.page)
        canvas.restoreState()

    def _draw_banner(self, canvas: Any, doc: Any) -> None:
        """Drawn when the page is full, once it is known whether a zone heading opened it."""
        y = self._body_top
        paragraph, height = self._continuation
        y -= height
        paragraph.drawOn(canvas, MARGIN_X, y)
        if self._zone_at_page_start is not None:
            paragraph, height = self._zone_banners[self._zone_at_page_start]
            paragraph.drawOn(canvas, MARGIN_X, y - height)

    def _define_page_count(self, canvas: Any) -> None:
        """Fill in the `M` of every page's `page N/M`.

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

        rule_y = self._body_top + BLOCK_GAP / 2
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, rule_y, PAGE_WIDTH - MARGIN_X, rule_y)

    def _draw_footer(self, canvas: Any, page: int) -> None:
        rule_y = self._body_bottom - BLOCK_GAP / 2
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
