"""Scenarios for the printed ordonnance: what the patient carries to the lab must scan and read."""

from __future__ import annotations

import re
from datetime import date

from app.documents.ordonnance import (
    ALD_HEADING,
    LAB_ADVICE,
    OTHER_HEADING,
    TITLE,
    Line,
    Ordonnance,
    Prescriber,
    render_ordonnance,
)
from app.domain.epu_id import generate, grouped, qr_content

AUTHORED_ON = date(2026, 11, 23)

# Real LOINC request codes with their French labels.
EXAMS = (
    ("Prolactine", "2842-3"),
    ("Hémoglobine glyquée (HbA1c)", "4548-4"),
    ("Numération formule sanguine", "58410-2"),
    ("Créatinine", "2160-0"),
    ("Thyréostimuline (TSH)", "3016-3"),
    ("Ferritine", "2276-4"),
    ("Glucose à jeun", "1558-6"),
    ("Protéine C réactive", "1988-5"),
    ("Cholestérol total", "2093-3"),
    ("Vitamine D (25-OH)", "62292-8"),
)


def ordonnance_of(prescriber: Prescriber, *lines: Line) -> Ordonnance:
    return Ordonnance(epu=generate(), authored_on=AUTHORED_ON, prescriber=prescriber, lines=lines)


def test_a_one_line_ordonnance_shows_the_exam_the_code_and_a_scannable_qr(prescriber, printed):
    ordonnance = ordonnance_of(prescriber, Line(label="Prolactine", loinc="2842-3"))

    page = printed(ordonnance)

    assert page.page_qr_payloads == [[qr_content(ordonnance.epu)]]
    for expected in (
        TITLE,
        "Prolactine",
        "LOINC 2842-3",
        grouped(ordonnance.epu),
        "E-prescription unifiée",
        "Le 23/11/2026",
        "Patient :",
        "Dr Camille Lefèvre",
        "N° RPPS : 10101234567",
        LAB_ADVICE,
        "hébergées de manière anonyme",
        "droit d'accès",
        "page 1/1",
    ):
        assert expected in page.text
    assert ALD_HEADING not in page.text


def test_a_fifty_line_ordonnance_flows_over_pages_each_with_qr_code_and_page_number(
    prescriber, printed
):
    lines = [
        Line(label=f"{label} (contrôle {number:02d})", loinc=code)
        for number, (label, code) in enumerate(EXAMS * 5, 1)
    ]
    ordonnance = ordonnance_of(prescriber, *lines)

    pdf = printed(ordonnance)

    pages = len(pdf.page_texts)
    assert pages > 1
    assert pdf.page_qr_payloads == [[qr_content(ordonnance.epu)]] * pages
    for number, text in enumerate(pdf.page_texts, 1):
        assert grouped(ordonnance.epu) in text
        assert re.search(rf"page {number}/{pages}\b", text)
    for line in lines:
        assert line.label in pdf.text
        assert f"LOINC {line.loinc}" in pdf.text


def test_ald_lines_are_printed_above_the_separator_and_the_others_below(prescriber, printed):
    hba1c = Line(label="Hémoglobine glyquée (HbA1c)", loinc="4548-4", ald=True, renewal_count=3)
    crp = Line(label="Protéine C réactive", loinc="1988-5", urgent=True)
    creatinine = Line(label="Créatinine", loinc="2160-0", ald=True)
    ordonnance = ordonnance_of(prescriber, hba1c, crp, creatinine)

    text = printed(ordonnance).text

    top_heading = text.index(ALD_HEADING)
    bottom_heading = text.index(OTHER_HEADING)
    assert top_heading < text.index(hba1c.label) < bottom_heading
    assert top_heading < text.index(creatinine.label) < bottom_heading
    assert bottom_heading < text.index(crp.label)
    assert "À renouveler 3 fois" in text
    assert "URGENT" in text


def test_a_later_page_says_it_continues_the_ald_zone(prescriber, printed):
    lines = [
        Line(label=f"{label} (contrôle {n:02d})", loinc=code, ald=True)
        for n, (label, code) in enumerate(EXAMS * 4, 1)
    ]
    lines.append(Line(label="Protéine C réactive", loinc="1988-5"))

    pdf = printed(ordonnance_of(prescriber, *lines))

    assert len(pdf.page_texts) > 1
    second_page = " ".join(pdf.page_texts[1].split())
    assert "Suite de l'ordonnance du 23/11/2026" in second_page
    assert f"{ALD_HEADING} (suite)" in second_page
    assert OTHER_HEADING in pdf.text


def test_accents_and_clinical_details_read_back_as_typed(prescriber, printed):
    lines = (
        Line(
            label="Prolactine",
            loinc="2842-3",
            clinical_context=("Date des dernières règles : 2026-11-02",),
            patient_instruction="À jeun",
            sampling_note="Prélèvement entre 8 h et 10 h, après 20 minutes de repos",
        ),
        Line(label="Hémoglobine glyquée", loinc="4548-4"),
        Line(label="Œstradiol", loinc="2243-4"),
    )

    text = printed(ordonnance_of(prescriber, *lines)).text

    for expected in (
        "Hémoglobine glyquée",
        "Œstradiol",
        "Date des dernières règles : 2026-11-02",
        "Consigne au patient — À jeun",
        "Prélèvement entre 8 h et 10 h, après 20 minutes de repos",
        "Renseignez-vous auprès de votre laboratoire",
    ):
        assert expected in text


def test_a_600_character_free_text_line_is_printed_whole_and_without_a_code(prescriber, printed):
    sentence = "Recherche de parasites dans les selles, trois échantillons à deux jours d'écart. "
    free_text = (sentence * 8)[:600].strip()
    ordonnance = ordonnance_of(prescriber, Line(label=free_text, loinc=None))

    pdf = printed(ordonnance)

    assert free_text in pdf.text
    assert "LOINC" not in pdf.text
    assert pdf.page_qr_payloads == [[qr_content(ordonnance.epu)]] * len(pdf.page_texts)


def test_markup_characters_in_a_label_are_printed_literally(prescriber, printed):
    label = "Glycémie < 1,10 g/L & contrôle <b>"

    text = printed(ordonnance_of(prescriber, Line(label=label, loinc=None))).text

    assert label in text


def test_the_qr_is_vector_drawing_not_an_embedded_image(prescriber):
    pdf = render_ordonnance(ordonnance_of(prescriber, Line(label="Ferritine", loinc="2276-4")))

    assert pdf.startswith(b"%PDF-")
    assert b"/Subtype /Image" not in pdf
