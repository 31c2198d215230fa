"""The terminology operations' FHIR answers: ValueSet/$expand, ValueSet/$validate-code and
CodeSystem/$lookup over the active release."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from app.domain.errors import error
from app.terminology.concepts import LOINC_SYSTEM, REQUIRED_CONTEXT_EXTENSION, Concept
from app.terminology.index import Terminology

SNOMED = "http://snomed.info/sct"
SYNONYM_USE = {"system": SNOMED, "code": "900000000000013009", "display": "Synonym"}
CONTEXT_REQUIRED = "clinical-context-required"
REQUIRED_CONTEXT = "required-clinical-context"
MAX_COUNT = 1000
DEFAULT_COUNT = 100
"""Without a count a short filter could ask for the whole value set; a page keeps it cheap."""
MAX_FILTER_LENGTH = 200
MAX_OFFSET = 2**31 - 1
"""FHIR's integer is 32-bit: a larger offset could not even be echoed in expansion.offset."""


def require_value_set(terminology: Terminology, url: str | None) -> None:
    """404 unless `url` (optionally `url|version`) names the value set served, or is absent."""
    if url is None:
        return
    canonical, _, version = url.partition("|")
    if canonical != terminology.url or (version and version != terminology.version):
        raise error(
            404,
            "VALUESET_UNKNOWN",
            f"This gateway serves one value set, {terminology.url} (version "
            f"{terminology.version}), not {url[:200]}.",
            "url",
            issue_type="not-found",
        )


def require_loinc(system: str | None) -> None:
    if system != LOINC_SYSTEM:
        raise error(
            404,
            "CODESYSTEM_UNKNOWN",
            f"This gateway looks up codes of {LOINC_SYSTEM} only, not {str(system)[:200]}.",
            "system",
            issue_type="not-found",
        )


def expansion(
    terminology: Terminology, filter: str | None, offset: int, count: int | None
) -> dict[str, Any]:
    if filter is not None and len(filter) > MAX_FILTER_LENGTH:
        raise error(
            400,
            "FILTER_TOO_LONG",
            f"filter is limited to {MAX_FILTER_LENGTH} characters.",
            "filter",
        )
    page_size = DEFAULT_COUNT if count is None else count
    total, page = terminology.expand(filter, offset=offset, count=page_size)
    parameters: list[dict[str, Any]] = [
        {"name": "version", "valueString": terminology.version},
        {"name": "offset", "valueInteger": offset},
        {"name": "count", "valueInteger": page_size},
    ]
    if filter:
        parameters.insert(0, {"name": "filter", "valueString": filter})
    return {
        **_value_set(terminology),
        "expansion": {
            "identifier": f"urn:uuid:{uuid.uuid4()}",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "total": total,
            "offset": offset,
            "parameter": parameters,
            **({"contains": [_contains(concept) for concept in page]} if page else {}),
        },
    }


def validate_code(terminology: Terminology, system: str | None, code: str) -> dict[str, Any]:
    """FHIR answers a code outside the value set with result false, not with an error."""
    concept = terminology.lookup(code) if system in (None, LOINC_SYSTEM) else None
    parameters: list[dict[str, Any]] = [{"name": "result", "valueBoolean": concept is not None}]
    if concept is not None:
        parameters.append({"name": "display", "valueString": concept.display})
    elif system not in (None, LOINC_SYSTEM):
        parameters.append(
            {
                "name": "message",
                "valueString": f"{terminology.url} holds {LOINC_SYSTEM} codes only.",
            }
        )
    else:
        parameters.append(
            {
                "name": "message",
                "valueString": f"LOINC {code[:20]} is not in the value set {terminology.url} "
                f"(version {terminology.version}).",
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def lookup(terminology: Terminology, code: str) -> dict[str, Any]:
    concept = terminology.lookup(code)
    if concept is None:
        raise error(
            404,
            "CODE_NOT_IN_VALUESET",
            f"LOINC {code[:20]} is not in the value set {terminology.url} "
            f"(version {terminology.version}).",
            "code",
            issue_type="not-found",
        )
    parameters: list[dict[str, Any]] = [
        {"name": "name", "valueString": "LOINC"},
        {"name": "version", "valueString": terminology.version},
        {"name": "display", "valueString": concept.display},
    ]
    parameters += [
        {
            "name": "designation",
            "part": [
                {"name": "language", "valueCode": "fr-FR"},
                {"name": "use", "valueCoding": SYNONYM_USE},
                {"name": "value", "valueString": synonym},
            ],
        }
        for synonym in concept.synonyms
    ]
    parameters.append(_property(CONTEXT_REQUIRED, {"valueBoolean": bool(concept.required_context)}))
    parameters += [
        _property(
            REQUIRED_CONTEXT,
            {
                "valueCoding": {
                    "system": LOINC_SYSTEM,
                    "code": needed.code,
                    "display": needed.display,
                }
            },
        )
        for needed in concept.required_context
    ]
    return {"resourceType": "Parameters", "parameter": parameters}


def _value_set(terminology: Terminology) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "url": terminology.url,
        "version": terminology.version,
        "status": "active",
    }


def _contains(concept: Concept) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "system": LOINC_SYSTEM,
        "code": concept.code,
        "display": concept.display,
    }
    if concept.required_context:
        # R4's expansion has no property element; the extension the release itself uses says
        # which context a prescriber should attach.
        entry["extension"] = [
            {
                "url": REQUIRED_CONTEXT_EXTENSION,
                "valueCoding": {"system": LOINC_SYSTEM, "code": c.code, "display": c.display},
            }
            for c in concept.required_context
        ]
    if concept.synonyms:
        entry["designation"] = [
            {"language": "fr-FR", "use": SYNONYM_USE, "value": synonym}
            for synonym in concept.synonyms
        ]
    return entry


def _property(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "property",
        "part": [{"name": "code", "valueCode": code}, {"name": "value", **value}],
    }
