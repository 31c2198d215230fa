"""The CapabilityStatement: what this gateway really supports, and nothing more."""

from __future__ import annotations

from typing import Any

from app.domain.epu_id import EPU_SYSTEM
from app.fhir.identifiers import PROFILE_SERVICE_REQUEST, PROFILE_TASK

_READ = [{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}]


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
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
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
                "interaction": [{"code": "transaction"}],
                "resource": [
                    {
                        "type": "ServiceRequest",
                        "profile": PROFILE_SERVICE_REQUEST,
                        "interaction": _READ + [{"code": "search-type"}],
                        "searchInclude": ["ServiceRequest:requester", "ServiceRequest:subject"],
                        "searchRevInclude": ["Task:focus"],
                        "searchParam": [
                            {
                                "name": "requisition",
                                "type": "token",
                                "documentation": f"{EPU_SYSTEM}|<EPU>; the code may be typed "
                                "in any accepted spelling (grouped, lower case).",
                            }
                        ],
                    },
                    {"type": "Task", "profile": PROFILE_TASK, "interaction": _READ},
                    *[
                        {"type": name, "interaction": _READ}
                        for name in (
                            "Patient",
                            "Practitioner",
                            "PractitionerRole",
                            "Organization",
                            "Observation",
                            "Condition",
                        )
                    ],
                ],
            }
        ],
    }
