"""The answer to a created prescription: a transaction-response Bundle carrying the EPU ID."""

from __future__ import annotations

from typing import Any

from app.domain.errors import Issue
from app.fhir.identifiers import epu_identifier
from app.fhir.outcome import operation_outcome


def transaction_response(
    epu: str,
    base_url: str,
    created: list[tuple[dict[str, Any], list[Issue]]],
    links: dict[str, str],
) -> dict[str, Any]:
    """`created`: each stored resource with the issues that concern it, request entries first."""
    entries = []
    for resource, issues in created:
        reference = f"{resource['resourceType']}/{resource['id']}"
        meta = resource["meta"]
        response: dict[str, Any] = {
            "status": "201 Created",
            "location": f"{reference}/_history/{meta['versionId']}",
            "etag": f'W/"{meta["versionId"]}"',
            "lastModified": meta["lastUpdated"],
        }
        if issues:
            response["outcome"] = operation_outcome(issues)
        entries.append(
            {"fullUrl": f"{base_url}/fhir/{reference}", "resource": resource, "response": response}
        )
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "identifier": epu_identifier(epu),
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": entries,
    }


def without_resources(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same answer for `Prefer: return=minimal`: locations and outcomes, no bodies."""
    slim = dict(bundle)
    slim["entry"] = [
        {key: value for key, value in entry.items() if key != "resource"}
        for entry in bundle["entry"]
    ]
    return slim
