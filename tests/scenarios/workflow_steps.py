"""Steps the workflow scenarios share: create, claim, read a line's Task, update it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.domain.epu_id import EPU_SYSTEM
from tests.conftest import FHIR_JSON, Tokens, create, created_epu, example


def new_prescription(
    client: TestClient, tokens: Tokens, name: str = "prescription-prolactine", change: Any = None
) -> str:
    bundle = example(name)
    if change:
        change(bundle)
    return created_epu(create(client, tokens, bundle))


def parameters(epu: str, **more: str) -> dict[str, Any]:
    values = [{"name": "epu", "valueIdentifier": {"system": EPU_SYSTEM, "value": epu}}]
    values += [{"name": name, "valueString": value} for name, value in more.items()]
    return {"resourceType": "Parameters", "parameter": values}


def operation(client: TestClient, name: str, headers: dict[str, str], epu: str, **more: str) -> Any:
    return client.post(
        f"/fhir/Task/${name}", json=parameters(epu, **more), headers={**headers, **FHIR_JSON}
    )


def tasks(client: TestClient, headers: dict[str, str], epu: str) -> dict[str, Any]:
    """The group Task and the line Tasks as the caller sees them now."""
    response = client.get(f"/fhir/Task?group-identifier={EPU_SYSTEM}|{epu}", headers=headers)
    assert response.status_code == 200, response.text
    found = [entry["resource"] for entry in response.json()["entry"]]
    group = next(task for task in found if "focus" not in task)
    return {"group": group, "lines": [task for task in found if "focus" in task]}


def claimed_line(client: TestClient, tokens: Tokens) -> tuple[str, dict[str, Any]]:
    """A new prescription claimed by the default lab, and its first line Task as the lab sees it."""
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    return epu, tasks(client, tokens.lab(), epu)["lines"][0]


def set_status(
    client: TestClient, headers: dict[str, str], task: dict[str, Any], status: str, **changes: Any
) -> Any:
    body = {**task, "status": status, **changes}
    return client.put(
        f"/fhir/Task/{task['id']}",
        json=body,
        headers={**headers, **FHIR_JSON, "If-Match": f'W/"{task["meta"]["versionId"]}"'},
    )


def filler_order(epu: str, code: str = "2160-0", based_on: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "filler-order",
        "requisition": {"system": EPU_SYSTEM, "value": epu},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/ignored"},
    }
    if based_on:
        request["basedOn"] = [{"reference": based_on}]
    return request
