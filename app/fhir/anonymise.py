"""The base is anonymous: what of a Patient is kept, and what is dropped from everything else."""

from __future__ import annotations

from typing import Any

KEPT_PATIENT_ELEMENTS = ("resourceType", "gender", "birthDate")


def anonymise_patient(patient: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The Patient as stored (gender, birth year-month) and the elements that were dropped."""
    kept: dict[str, Any] = {"resourceType": "Patient"}
    dropped = sorted(
        f"Patient.{name}"
        for name in patient
        if name not in KEPT_PATIENT_ELEMENTS and name not in ("id", "meta")
    )
    if "gender" in patient:
        kept["gender"] = patient["gender"]
    birth_date = patient.get("birthDate")
    if isinstance(birth_date, str):
        kept["birthDate"] = birth_date[:7]
        if len(birth_date) > 7:
            dropped.append("Patient.birthDate (day: kept as year-month)")
    return kept, dropped


def strip_identifying_details(resource: dict[str, Any], patient_url: str) -> None:
    """Drop what could name the patient elsewhere: narratives, the display or identifier of
    any reference to the patient, and all but the kept elements of a contained Patient."""
    resource.pop("text", None)
    contained = resource.get("contained")
    if isinstance(contained, list):
        resource["contained"] = [_anonymise_contained(item) for item in contained]
    _strip_patient_references(resource, patient_url)


def _anonymise_contained(item: Any) -> Any:
    if not isinstance(item, dict) or item.get("resourceType") != "Patient":
        return item
    kept, _dropped = anonymise_patient(item)
    if "id" in item:
        kept["id"] = item["id"]
    return kept


def _strip_patient_references(node: Any, patient_url: str) -> None:
    if isinstance(node, dict):
        if node.get("reference") == patient_url:
            node.pop("display", None)
            node.pop("identifier", None)
        for value in node.values():
            _strip_patient_references(value, patient_url)
    elif isinstance(node, list):
        for item in node:
            _strip_patient_references(item, patient_url)
