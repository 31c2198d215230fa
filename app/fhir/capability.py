"""The CapabilityStatement: what this gateway really supports, and nothing more."""

from __future__ import annotations

from typing import Any

from app.domain.epu_id import EPU_SYSTEM
from app.fhir.identifiers import PROFILE_SERVICE_REQUEST, PROFILE_TASK

_READ = [{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}]
_OPERATIONS = "https://epu-gateway/fhir/OperationDefinition/"
_STANDARD_OPERATIONS = "http://hl7.org/fhir/OperationDefinition/"


def _token(name: str, documentation: str) -> dict[str, str]:
    return {"name": name, "type": "token", "documentation": documentation}


def _operation(name: str, documentation: str) -> dict[str, str]:
    return {"name": name, "definition": _OPERATIONS + name, "documentation": documentation}


def _standard_operation(resource: str, name: str, documentation: str) -> dict[str, str]:
    return {
        "name": name,
        "definition": f"{_STANDARD_OPERATIONS}{resource}-{name}",
        "documentation": documentation,
    }


def capability_statement(base_url: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "epu-gateway",
        "kind": "instance",
        "implementation": {
            "description": "Base nationale de l'e-prescription unifiée de biologie médicale",
            "url": f"{base_url.rstrip('/')}/fhir",
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth2 bearer JWT (RS256/ES256) with claim role "
                    "(prescriber|lab|admin), rpps for prescribers, lab (FINESS/SIRET) for labs.",
                },
                "interaction": [
                    {"code": "transaction", "documentation": "Prescriber: create a prescription."}
                ],
                "operation": [
                    _operation(
                        "scan",
                        "Lab: a QR photo (image/png, image/jpeg, multipart) or a hand scanner's "
                        "text (text/plain) answered like the pull by requisition.",
                    )
                ],
                "resource": [
                    {
                        "type": "ServiceRequest",
                        "profile": PROFILE_SERVICE_REQUEST,
                        "interaction": [
                            *_READ,
                            {"code": "search-type", "documentation": "Pull by EPU."},
                            {"code": "create", "documentation": "Biologist's filler-order."},
                        ],
                        "searchInclude": ["ServiceRequest:requester", "ServiceRequest:subject"],
                        "searchRevInclude": ["Task:focus", "Provenance:target"],
                        "searchParam": [
                            _token(
                                "requisition",
                                f"{EPU_SYSTEM}|<EPU>; the code may be typed in any accepted "
                                "spelling (grouped, lower case).",
                            )
                        ],
                    },
                    {
                        "type": "Task",
                        "profile": PROFILE_TASK,
                        "interaction": [
                            *_READ,
                            {"code": "update", "documentation": "Holding lab, If-Match."},
                            {"code": "patch", "documentation": "Holding lab, JSON Patch."},
                            {"code": "search-type"},
                        ],
                        "versioning": "versioned-update",
                        "conditionalUpdate": False,
                        "searchParam": [
                            _token("group-identifier", f"{EPU_SYSTEM}|<EPU>"),
                            _token("requester", "The prescriber's own RPPS (identifier)."),
                            _token("status", "Group status of the prescriber's prescriptions."),
                            {"name": "_lastUpdated", "type": "date"},
                            {"name": "_count", "type": "number"},
                        ],
                        "operation": [
                            _operation("claim", "Lab: take the prescription (Parameters{epu})."),
                            _operation("release", "Holding lab: give it back (Parameters{epu})."),
                            _operation(
                                "cancel", "Prescriber: cancel it (Parameters{epu, reason})."
                            ),
                        ],
                    },
                    {
                        "type": "AuditEvent",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            _token("entity-identifier", "The EPU; its prescriber only.")
                        ],
                    },
                    {
                        "type": "ValueSet",
                        "operation": [
                            _standard_operation(
                                "ValueSet",
                                "expand",
                                "The JDV LOINC circuit de la biologie: url, filter (labels and "
                                "synonyms, case and accents ignored), count (at most 1000, "
                                "default 100), offset. Any authenticated account.",
                            ),
                            _standard_operation(
                                "ValueSet",
                                "validate-code",
                                "url, system, code: result, display or message.",
                            ),
                        ],
                    },
                    {
                        "type": "CodeSystem",
                        "operation": [
                            _standard_operation(
                                "CodeSystem",
                                "lookup",
                                "system=http://loinc.org, code of the JDV: display, French "
                                "synonyms, and the clinical context the code needs (properties "
                                "clinical-context-required, required-clinical-context).",
                            )
                        ],
                    },
                    *[
                        {"type": name, "interaction": _READ}
                        for name in (
                            "Patient",
                            "Practitioner",
                            "PractitionerRole",
                            "Organization",
                            "Observation",
                            "Condition",
                            "Provenance",
                        )
                    ],
                ],
            }
        ],
    }
