"""From the stored FHIR resources of a prescription to what the printed ordonnance shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.documents.ordonnance import Line, Ordonnance, Prescriber
from app.fhir.identifiers import LOINC, STRUCTURE_BASE, rpps_numbers
from app.terminology.index import Terminology

PARIS = ZoneInfo("Europe/Paris")
ALD = STRUCTURE_BASE + "epu-ald"
URGENT_PRIORITIES = {"urgent", "asap", "stat"}


def ordonnance_of(
    epu: str, authored_on: datetime, resources: list[dict[str, Any]], terminology: Terminology
) -> Ordonnance:
    by_reference = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    lines = [
        _line(resource, by_reference, terminology)
        for resource in resources
        if resource["resourceType"] == "ServiceRequest" and resource.get("intent") == "order"
    ]
    return Ordonnance(
        epu=epu,
        authored_on=authored_on.astimezone(PARIS).date(),
        prescriber=_prescriber(resources),
        lines=tuple(lines),
    )


def _prescriber(resources: list[dict[str, Any]]) -> Prescriber:
    practitioner = _first(resources, "Practitioner")
    role = _first(resources, "PractitionerRole")
    organization = _first(resources, "Organization")
    names = practitioner.get("name") or [{}]
    name = (
        names[0].get("text")
        or " ".join(
            [*names[0].get("prefix", []), *names[0].get("given", []), names[0].get("family", "")]
        ).strip()
    )
    telecoms = [
        *practitioner.get("telecom", []),
        *role.get("telecom", []),
        *organization.get("telecom", []),
    ]
    address_lines: list[str] = []
    if organization.get("name"):
        address_lines.append(str(organization["name"]))
    for address in organization.get("address", []) or practitioner.get("address", []):
        address_lines += [*address.get("line", [])]
        city = " ".join(p for p in (address.get("postalCode"), address.get("city")) if p)
        if city:
            address_lines.append(city)
    specialties = [s.get("text") or _display(s) for s in role.get("specialty", [])]
    return Prescriber(
        name=name or "Prescripteur",
        rpps=next(iter(sorted(rpps_numbers(practitioner))), ""),
        specialty=next((s for s in specialties if s), None),
        address_lines=tuple(address_lines),
        phone=_telecom(telecoms, "phone"),
        email=_telecom(telecoms, "email"),
    )


def _line(
    request: dict[str, Any], by_reference: dict[str, dict[str, Any]], terminology: Terminology
) -> Line:
    code = request.get("code") or {}
    loinc = next((c.get("code") for c in code.get("coding", []) if c.get("system") == LOINC), None)
    concept = terminology.lookup(str(loinc)) if loinc else None
    label = concept.display if concept else code.get("text") or _display(code) or "Examen"
    repeat = (request.get("occurrenceTiming") or {}).get("repeat") or {}
    count = repeat.get("count")
    return Line(
        label=label,
        loinc=loinc,
        clinical_context=tuple(
            text
            for info in request.get("supportingInfo", [])
            if (text := _context_text(by_reference.get(str(info.get("reference")))))
        ),
        patient_instruction=request.get("patientInstruction"),
        sampling_note=" ".join(n.get("text", "") for n in request.get("note", [])) or None,
        urgent=request.get("priority") in URGENT_PRIORITIES,
        renewal_count=int(count) if isinstance(count, int) and count > 1 else None,
        ald=any(
            e.get("url") == ALD and e.get("valueBoolean") is True
            for e in request.get("extension", [])
        ),
    )


def _context_text(resource: dict[str, Any] | None) -> str | None:
    if resource is None:
        return None
    what = _display(resource.get("code") or {}) or "Contexte clinique"
    if resource["resourceType"] == "Condition":
        return what
    value = _value_text(resource)
    return f"{what} : {value}" if value else what


def _value_text(observation: dict[str, Any]) -> str | None:
    if "valueDateTime" in observation:
        text = str(observation["valueDateTime"])
        parts = text[:10].split("-")
        return "/".join(reversed(parts)) if len(parts) == 3 else text
    if "valueQuantity" in observation:
        quantity = observation["valueQuantity"]
        return f"{quantity.get('value', '')} {quantity.get('unit', '')}".strip()
    if "valueCodeableConcept" in observation:
        return _display(observation["valueCodeableConcept"])
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in observation:
            return str(observation[key])
    return None


def _display(concept: dict[str, Any]) -> str | None:
    if concept.get("text"):
        return str(concept["text"])
    return next((str(c["display"]) for c in concept.get("coding", []) if c.get("display")), None)


def _first(resources: list[dict[str, Any]], resource_type: str) -> dict[str, Any]:
    return next((r for r in resources if r["resourceType"] == resource_type), {})


def _telecom(telecoms: list[dict[str, Any]], system: str) -> str | None:
    return next(
        (str(t["value"]) for t in telecoms if t.get("system") == system and t.get("value")), None
    )
