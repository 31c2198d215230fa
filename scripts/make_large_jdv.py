"""Synthesises a JDV release the size of the official one (1,350 concepts) for benchmarks.

The curated concepts are kept as they are; the rest are variants of them (specimen, method) with
made-up codes from 9000000 up, past any real LOINC code, so nobody mistakes them for terminology.

    PYTHONPATH=. python scripts/make_large_jdv.py [OUTPUT.json] [--size 1350]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.terminology import loinc
from app.terminology.concepts import LOINC_SYSTEM, REQUIRED_CONTEXT_EXTENSION, Concept
from app.terminology.loader import load_default

DEFAULT_OUTPUT = Path("data/bench/jdv-loinc-large.json")
SYNTHETIC_BASE = 9_000_000
VARIANTS = (
    "sang total",
    "sérum",
    "plasma",
    "urines de 24 heures",
    "échantillon d'urines",
    "liquide céphalorachidien",
    "liquide pleural",
    "méthode immunologique",
    "méthode enzymatique",
    "chromatographie",
    "spectrométrie de masse",
    "contrôle",
)
SYNONYM_USE = {"system": "http://snomed.info/sct", "code": "900000000000013009"}


def synthesise(size: int) -> list[Concept]:
    _, curated = load_default().expand(None)
    concepts = list(curated[:size])
    for i in range(size - len(concepts)):
        base = curated[i % len(curated)]
        variant = VARIANTS[(i // len(curated)) % len(VARIANTS)]
        body = str(SYNTHETIC_BASE + i)
        concepts.append(
            Concept(
                code=f"{body}-{loinc.check_digit(body)}",
                display=f"{base.display}, {variant}",
                synonyms=tuple(f"{synonym} {variant}" for synonym in base.synonyms),
                required_context=base.required_context,
            )
        )
    return concepts


def as_value_set(concepts: list[Concept]) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "url": "https://epu-gateway/fhir/ValueSet/jdv-loinc-circuit-biologie-synthetic",
        "version": f"synthetic-{len(concepts)}",
        "status": "draft",
        "experimental": True,
        "description": "Synthetic, for benchmarks only: most codes are made up.",
        "compose": {
            "include": [{"system": LOINC_SYSTEM, "concept": [_entry(c) for c in concepts]}]
        },
    }


def _entry(concept: Concept) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": concept.code, "display": concept.display}
    if concept.required_context:
        entry["extension"] = [
            {
                "url": REQUIRED_CONTEXT_EXTENSION,
                "valueCoding": {"system": LOINC_SYSTEM, "code": c.code, "display": c.display},
            }
            for c in concept.required_context
        ]
    entry["designation"] = [
        {"language": "fr-FR", "use": SYNONYM_USE, "value": synonym} for synonym in concept.synonyms
    ]
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--size", type=int, default=1350)
    args = parser.parse_args()
    concepts = synthesise(args.size)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(as_value_set(concepts), ensure_ascii=False), "utf-8")
    print(f"{len(concepts)} concepts written to {args.output}")


if __name__ == "__main__":
    main()
