"""The printable EPU ordonnance: an A4 French medical biology prescription as PDF bytes.

Pure: no web framework, no database. The layout follows the paper the patient brings to the lab:
prescriber, QR code and degraded-mode code on every page, one entry per exam, and the CERFA 12708
bizone split when any line relates to a long-term condition (ALD). No patient identity is printed:
the prescriber's software fills the "Patient :" box.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    HRFlowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.documents.fonts import document_fonts
from app.documents.page import CONTENT_WIDTH, PAGE_HEIGHT, PAGE_WIDTH, PageFurniture
from app.documents.styles import RULE, Styles, styles_for

TITLE = "Ordonnance d'examens de biologie médicale"
ALD_HEADING = (
    "Prescriptions relatives au traitement de l'affection de longue durée reconnue "
    "(liste ou hors liste) (AFFECTION EXONÉRANTE)"
)
OTHER_HEADING = (
    "Prescriptions SANS RAPPORT avec l'affection de longue durée (MALADIES INTERCURRENTES)"
)
LAB_ADVICE = (
    "Renseignez-vous auprès de votre laboratoire sur les conditions de prélèvement "
    "(à jeun, horaires...)."
)
PRIVACY_NOTICE = (
    "Protection des données : les données de cette prescription sont hébergées de manière anonyme "
    "(sans vos nom, adresse ni numéro de sécurité sociale) par la base nationale de "
    "l'e-prescription unifiée, pour que le laboratoire de votre choix puisse la réaliser. "
    "Le code ci-dessus y donne accès : ne le communiquez qu'à ce laboratoire. "
    "Vous disposez d'un droit d'accès et de rectification sur ces données (RGPD)."
)


@dataclass(frozen=True)
class Prescriber:
    name: str
    rpps: str
    specialty: str | None
    address_lines: tuple[str, ...]
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Line:
    """One exam. `loinc` is None for a free-text line; `clinical_context` holds ready-to-print
    statements such as "Date des dernières règles : 2026-11-02"."""

    label: str
    loinc: str | None
    clinical_context: tuple[str, ...] = ()
    patient_instruction: str | None = None
    sampling_note: str | None = None
    urgent: bool = False
    renewal_count: int | None = None
    ald: bool = False


@dataclass(frozen=True)
class Ordonnance:
    epu: str
    authored_on: date
    prescriber: Prescriber
    lines: tuple[Line, ...]


def render_ordonnance(ordonnance: Ordonnance) -> bytes:
    """The ordonnance as a PDF: text stays text (searchable, extractable), the QR is vector."""
    styles = styles_for(document_fonts())
    bizone = any(line.ald for line in ordonnance.lines)
    furniture = PageFurniture(
        ordonnance.epu,
        prescriber_block=_prescriber_block(ordonnance.prescriber, styles),
        footer_block=[
            Paragraph(escape(LAB_ADVICE), styles.lab_advice),
            Paragraph(escape(PRIVACY_NOTICE), styles.privacy),
        ],
        continuation=Paragraph(
            f"Suite de l'ordonnance du {_french_date(ordonnance.authored_on)}",
            styles.continuation,
        ),
        zone_banners={
            heading: Paragraph(f"{escape(heading)} (suite)", styles.zone_heading)
            for heading in ((ALD_HEADING, OTHER_HEADING) if bizone else ())
        },
        styles=styles,
    )
    buffer = BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        title=TITLE,
        author=ordonnance.prescriber.name,
        subject=f"E-prescription unifiée du {_french_date(ordonnance.authored_on)}",
        creator="epu-gateway",
    )
    document.addPageTemplates(furniture.page_templates())
    story = _story(ordonnance, furniture, styles)
    story.append(furniture.page_count_marker())
    document.build(story)
    return buffer.getvalue()


def _prescriber_block(prescriber: Prescriber, styles: Styles) -> list[Paragraph]:
    details = [
        prescriber.specialty,
        f"N° RPPS : {prescriber.rpps}",
        *prescriber.address_lines,
        f"Tél. : {prescriber.phone}" if prescriber.phone else None,
        f"Courriel : {prescriber.email}" if prescriber.email else None,
    ]
    return [Paragraph(escape(prescriber.name), styles.prescriber_name)] + [
        Paragraph(escape(detail), styles.prescriber_detail) for detail in details if detail
    ]


def _story(ordonnance: Ordonnance, furniture: PageFurniture, styles: Styles) -> list[Any]:
    story: list[Any] = [
        Paragraph(f"Le {_french_date(ordonnance.authored_on)}", styles.date),
        _patient_box(styles),
        Paragraph(escape(TITLE), styles.title),
    ]
    ald = [line for line in ordonnance.lines if line.ald]
    if not ald:
        story.extend(_entries(ordonnance.lines, 1, furniture, styles))
        story.append(_signature_area(styles))
        return story
    others = [line for line in ordonnance.lines if not line.ald]
    separator = HRFlowable(width="100%", thickness=1.5, color=RULE, spaceBefore=2 * mm)
    separator.keepWithNext = 1  # never a separator alone at the foot of a page
    story.append(furniture.zone_marker(ALD_HEADING))
    story.append(Paragraph(escape(ALD_HEADING), styles.zone_heading))
    story.extend(_entries(ald, 1, furniture, styles))
    story.append(separator)
    story.append(furniture.zone_marker(OTHER_HEADING))
    story.append(Paragraph(escape(OTHER_HEADING), styles.zone_heading))
    story.extend(_entries(others, len(ald) + 1, furniture, styles))
    story.append(_signature_area(styles))
    return story


def _signature_area(styles: Styles) -> KeepTogether:
    return KeepTogether(
        [
            Spacer(0, 4 * mm),
            Paragraph("Signature du prescripteur", styles.signature),
            Spacer(0, 22 * mm),
        ]
    )


def _patient_box(styles: Styles) -> Table:
    """An empty box for the patient identity, which only the prescriber's software knows."""
    box = Table(
        [[Paragraph("Patient :", styles.box_label)]],
        colWidths=[CONTENT_WIDTH],
        rowHeights=[18 * mm],
    )
    box.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return box


def _entries(
    lines: Iterable[Line], first_number: int, furniture: PageFurniture, styles: Styles
) -> list[KeepTogether]:
    # A marker at both ends: when an entry splits over two pages, each page knows it holds one.
    return [
        KeepTogether(
            [
                furniture.entry_marker(),
                *_entry(line, number, styles),
                furniture.entry_marker(),
                Spacer(0, 2.5 * mm),
            ]
        )
        for number, line in enumerate(lines, first_number)
    ]


def _entry(line: Line, number: int, styles: Styles) -> list[Any]:
    """One exam: its label, code and marks, then what the lab and the patient need to know."""
    if line.loinc:
        head = f"<b>{escape(line.label)}</b>"
        head += f"&nbsp;&nbsp;<font size=8.5>LOINC&nbsp;{escape(line.loinc)}</font>"
    else:
        # A free-text line is a sentence, often long: set in bold it reads as a wall of ink.
        head = escape(line.label)
    if line.urgent:
        head += '&nbsp;&nbsp;<font color="white" backColor="black"><b>&nbsp;URGENT&nbsp;</b></font>'
    details = [f"Contexte clinique — {escape(context)}" for context in line.clinical_context]
    if line.patient_instruction:
        details.append(f"Consigne au patient — {escape(line.patient_instruction)}")
    if line.sampling_note:
        details.append(f"Conditions de prélèvement — {escape(line.sampling_note)}")
    if line.renewal_count:
        details.append(f"<b>À renouveler {line.renewal_count} fois</b>")
    flowables: list[Any] = [Paragraph(head, styles.line_head, bulletText=f"{number}.")]
    flowables += [Paragraph(detail, styles.line_detail) for detail in details]
    return flowables


def _french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")
