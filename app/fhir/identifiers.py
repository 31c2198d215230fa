"""Identifier systems, canonical URLs and the small builders around them."""

from __future__ import annotations

from typing import Any

from app.domain.epu_id import EPU_SYSTEM

LOINC = "http://loinc.org"
# FR Core: RPPS as "8" + RPPS under the ASIP OID, or the bare RPPS under the directory's URL.
RPPS_OID = "urn:oid:1.2.250.1.71.4.2.1"
RPPS_URL = "https://rpps.esante.gouv.fr"
# FR Core Organization identifier slices for FINESS and SIRET.
FINESS = "http://finess.sante.gouv.fr"
SIRET = "https://sirene.fr"
STRUCTURE_BASE = "https://epu-gateway/fhir/StructureDefinition/"
PROFILE_SERVICE_REQUEST = STRUCTURE_BASE + "epu-servicerequest"
PROFILE_TASK = STRUCTURE_BASE + "epu-task"
# Our line flags and where their value sits.
LINE_EXTENSIONS = {
    STRUCTURE_BASE + "epu-ald": "valueBoolean",
    STRUCTURE_BASE + "epu-atmp": "valueBoolean",
    STRUCTURE_BASE + "epu-prevention": "valueBoolean",
    STRUCTURE_BASE + "epu-non-reimbursable": "valueBoolean",
    STRUCTURE_BASE + "epu-out-of-nomenclature": "valueBoolean",
    STRUCTURE_BASE + "epu-result-copy-to": "valueReference",
    STRUCTURE_BASE + "epu-result-channel": "valueCoding",
}
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SNOMED = "http://snomed.info/sct"
SNOMED_LABORATORY_PROCEDURE = "108252007"


def epu_identifier(epu: str) -> dict[str, Any]:
    """The EPU ID as a FHIR Identifier (placer group number)."""
    return {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PGN"}]
        },
        "system": EPU_SYSTEM,
        "value": epu,
    }


def rpps_numbers(practitioner: dict[str, Any]) -> set[str]:
    """Every RPPS number a Practitioner's identifiers give, in either FR Core form."""
    numbers: set[str] = set()
    for identifier in practitioner.get("identifier") or []:
        system, value = identifier.get("system"), identifier.get("value") or ""
        if system == RPPS_OID and value.startswith("8"):
            numbers.add(value[1:])
        elif system == RPPS_URL:
            numbers.add(value)
    return numbers


def rpps_identifier(rpps: str) -> dict[str, Any]:
    return {"system": RPPS_OID, "value": "8" + rpps}


def lab_identifier(lab: str) -> dict[str, Any]:
    """A lab by FINESS (9 digits) or SIRET (14 digits)."""
    return {"system": FINESS if len(lab) == 9 else SIRET, "value": lab}
