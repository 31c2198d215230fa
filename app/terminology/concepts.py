"""Terminology building blocks: a requestable LOINC concept and the clinical context it needs."""

from __future__ import annotations

from dataclasses import dataclass

LOINC_SYSTEM = "http://loinc.org"
LOINC_OID = "2.16.840.1.113883.6.1"
REQUIRED_CONTEXT_EXTENSION = (
    "https://epu-gateway/fhir/StructureDefinition/epu-required-clinical-context"
)
# No ANS canonical for the JDV could be confirmed, so the curated subset carries one that is
# plainly ours; an official release keeps the URL it ships with.
JDV_URL = "https://epu-gateway/fhir/ValueSet/jdv-loinc-circuit-biologie"


@dataclass(frozen=True)
class RequiredContext:
    """An observation (LOINC) the prescriber should attach, e.g. 8665-2 for a prolactin."""

    code: str
    display: str


@dataclass(frozen=True)
class Concept:
    """One requestable exam: LOINC code, French label, synonyms, clinical context it needs."""

    code: str
    display: str
    synonyms: tuple[str, ...] = ()
    required_context: tuple[RequiredContext, ...] = ()
