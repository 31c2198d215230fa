"""Structural validation of FHIR R4 resources with fhir.resources, plus the required code bindings
its models leave unchecked. Problems come back as Issues with the FHIRPath of the faulty element.

fhir.resources 8 ships R4B and R5 models but no plain R4: R4B shares R4's data types and the
resources used here, whereas R5 rejects R4 payloads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

from app.domain.errors import Issue

MODELS: dict[str, Any] = {
    model.__name__: model
    for model in (
        Bundle,
        Condition,
        Observation,
        Organization,
        Parameters,
        Patient,
        Practitioner,
        PractitionerRole,
        ServiceRequest,
        Task,
    )
}

_CONTACT_SYSTEMS = {"phone", "fax", "email", "pager", "url", "sms", "other"}
_CONTACT_USES = {"home", "work", "temp", "old", "mobile"}
_REQUEST_INTENTS = {
    "proposal", "plan", "directive", "order", "original-order", "reflex-order",
    "filler-order", "instance-order", "option",
}  # fmt: skip
_PRIORITIES = {"routine", "urgent", "asap", "stat"}

# Required bindings (FHIR R4) on the elements this gateway reads, keyed by resource type then by
# dotted path; a list along the path is walked element by element.
REQUIRED_BINDINGS: dict[str, dict[str, set[str]]] = {
    "Bundle": {
        "type": {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        },
        "entry.request.method": {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"},
    },  # fmt: skip
    "Patient": {"gender": {"male", "female", "other", "unknown"}},
    "Practitioner": {
        "gender": {"male", "female", "other", "unknown"},
        "telecom.system": _CONTACT_SYSTEMS,
        "telecom.use": _CONTACT_USES,
    },
    "PractitionerRole": {"telecom.system": _CONTACT_SYSTEMS, "telecom.use": _CONTACT_USES},
    "Organization": {"telecom.system": _CONTACT_SYSTEMS, "telecom.use": _CONTACT_USES},
    "ServiceRequest": {
        "status": {
            "draft",
            "active",
            "on-hold",
            "revoked",
            "completed",
            "entered-in-error",
            "unknown",
        },
        "intent": _REQUEST_INTENTS,
        "priority": _PRIORITIES,
        "occurrenceTiming.repeat.periodUnit": {"s", "min", "h", "d", "wk", "mo", "a"},
    },  # fmt: skip
    "Observation": {
        "status": {
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        },
    },  # fmt: skip
    "Task": {
        "status": {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        },
        "intent": _REQUEST_INTENTS | {"unknown"},
        "priority": _PRIORITIES,
    },  # fmt: skip
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_resource(resource: Any, path: str) -> list[Issue]:
    """Every structural problem of one resource; `path` is the FHIRPath it sits at."""
    if not isinstance(resource, dict):
        return [_invalid(path, "A resource must be a JSON object.")]
    resource_type = resource.get("resourceType")
    model = MODELS.get(resource_type) if isinstance(resource_type, str) else None
    if model is None:
        return [
            _invalid(
                f"{path}.resourceType",
                f"Resource type {str(resource_type)[:40]!r} is not accepted here.",
                code="not-supported",
            )
        ]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [_from_pydantic(path, error) for error in exc.errors()]
    except (KeyError, TypeError, ValueError) as exc:
        # fhir.resources raises these for some nested shapes (e.g. an unknown contained type).
        return [
            _invalid(path, f"The resource's structure is not valid FHIR R4 ({type(exc).__name__}).")
        ]
    return list(_binding_issues(resource, str(resource_type), path))


def check_codes(resource: dict[str, Any], resource_type: str) -> list[Issue]:
    """Only the codes of `resource` that have a required value set (`check_resource` checks
    them too, after the structure)."""
    return list(_binding_issues(resource, resource_type, resource_type))


def warm_up() -> None:
    """Validate one small resource of each model: pydantic builds its validators on first use,
    and that first request would otherwise pay for it."""
    for name in MODELS:
        check_resource({"resourceType": name}, name)


def _from_pydantic(path: str, error: Any) -> Issue:
    expression = path
    for item in error.get("loc", ()):
        if isinstance(item, int):
            expression += f"[{item}]"
        elif isinstance(item, str) and _NAME.match(item) and item != "__root__":
            expression += f".{item.rstrip('_')}"
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "extra_forbidden":
        message = "Unknown element: FHIR R4 does not define it here."
    elif error.get("type") == "missing":
        message = "Required element is missing."
    return _invalid(expression, message[:300])


def _binding_issues(resource: dict[str, Any], resource_type: str, path: str) -> Iterator[Issue]:
    for dotted, allowed in REQUIRED_BINDINGS.get(resource_type, {}).items():
        for where, value in _walk(resource, dotted.split("."), path):
            if not isinstance(value, str) or value not in allowed:
                yield _invalid(
                    where,
                    f"{str(value)[:40]!r} is not in the required value set: "
                    f"{', '.join(sorted(allowed))}.",
                    code="code-invalid",
                )


def _walk(node: Any, names: list[str], path: str) -> Iterator[tuple[str, Any]]:
    if not names:
        yield path, node
        return
    if not isinstance(node, dict) or names[0] not in node:
        return
    child = node[names[0]]
    child_path = f"{path}.{names[0]}"
    if isinstance(child, list):
        for index, item in enumerate(child):
            yield from _walk(item, names[1:], f"{child_path}[{index}]")
    else:
        yield from _walk(child, names[1:], child_path)


def _invalid(expression: str, diagnostics: str, code: str = "structure") -> Issue:
    return Issue(
        severity="error",
        code=code,
        diagnostics=diagnostics,
        expression=(expression,),
        error_code="INVALID_RESOURCE",
    )
