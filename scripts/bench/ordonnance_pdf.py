"""Median time to render an ordonnance PDF, for 1 line and for 50 lines.

Run from the repository root: `PYTHONPATH=. python scripts/bench/ordonnance_pdf.py [--runs 30]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from app.documents.ordonnance import Line, Ordonnance, Prescriber, render_ordonnance
from app.domain.epu_id import generate

PRESCRIBER = Prescriber(
    name="Dr Camille Lefèvre",
    rpps="10101234567",
    specialty="Médecine générale",
    address_lines=("Cabinet médical des Tilleuls", "12 rue de l'Église", "69003 Lyon"),
    phone="04 78 12 34 56",
    email="c.lefevre@cabinet-tilleuls.fr",
)
LINE = Line(
    label="Hémoglobine glyquée (HbA1c)",
    loinc="4548-4",
    clinical_context=("Diabète de type 2 sous metformine",),
    patient_instruction="À jeun",
    renewal_count=3,
    ald=True,
)


def median_ms(ordonnance: Ordonnance, runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        render_ordonnance(ordonnance)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    for count in (1, 50):
        ordonnance = Ordonnance(
            epu=generate(),
            authored_on=date(2026, 11, 23),
            prescriber=PRESCRIBER,
            lines=(LINE,) * count,
        )
        render_ordonnance(ordonnance)  # warm-up: font registration and imports happen once
        pages = render_ordonnance(ordonnance).count(b"/Type /Page\n")
        print(f"{count:>2} line(s), {pages} page(s): median {median_ms(ordonnance, runs):.1f} ms")


if __name__ == "__main__":
    main()
