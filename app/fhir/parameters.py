"""Reading operation inputs from a FHIR Parameters resource."""

from __future__ import annotations

from typing import Any

from app.domain.errors import error


def parameter_text(parameters: dict[str, Any], name: str) -> str | None:
    """The value of parameter `name` as text: valueString/valueCode, valueIdentifier.value, or
    valueCodeableConcept text (or its first coding's display or code)."""
    for index, parameter in enumerate(parameters.get("parameter") or []):
        if not isinstance(parameter, dict) or parameter.get("name") != name:
            continue
        for key in ("valueString", "valueCode", "valueId"):
            if isinstance(parameter.get(key), str):
                return str(parameter[key])
        identifier = parameter.get("valueIdentifier")
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            return str(identifier["value"])
        concept = parameter.get("valueCodeableConcept")
        if isinstance(concept, dict):
            if isinstance(concept.get("text"), str):
                return str(concept["text"])
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict):
                    return str(coding.get("display") or coding.get("code") or "") or None
        raise error(
            400,
            "INVALID_PARAMETER",
            f"Parameter '{name}' has no value this operation can read.",
            f"Parameters.parameter[{index}]",
        )
    return None


def required_text(parameters: dict[str, Any], name: str) -> str:
    value = parameter_text(parameters, name)
    if value is None or not value.strip():
        raise error(
            400,
            "MISSING_PARAMETER",
            f"This operation needs the parameter '{name}'.",
            "Parameters.parameter",
            issue_type="required",
        )
    return value.strip()
