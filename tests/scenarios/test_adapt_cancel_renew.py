"""The biologist adapts a prescription; the prescriber cancels one; a renewable one comes back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FHIR_JSON, OTHER_LAB, Tokens, issue_codes
from tests.scenarios.workflow_steps import (
    filler_order,
    new_prescription,
    operation,
    set_status,
    tasks,
)


def why(reason: str) -> dict[str, str]:
    return {
        "X-Provenance": json.dumps({"resourceType": "Provenance", "reason": [{"text": reason}]})
    }


def pulled(client: TestClient, headers: dict[str, str], epu: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/fhir/ServiceRequest?requisition={epu}&_revinclude=Task:focus&_revinclude=Provenance:target",
        headers=headers,
    )
    assert response.status_code == 200
    return [entry["resource"] for entry in response.json()["entry"]]


def test_biologist_adds_an_exam_and_the_prescriber_sees_it(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(rpps="10003456789"), epu)

    response = client.post(
        "/fhir/ServiceRequest",
        json=filler_order(epu, "3016-3"),
        headers={**tokens.lab(rpps="10003456789"), **FHIR_JSON},
    )

    assert response.status_code == 201, response.text
    added = response.json()
    assert added["intent"] == "filler-order"
    assert added["requester"]["identifier"]["value"] == "810003456789"
    resources = pulled(client, tokens.prescriber(), epu)
    lines = [r for r in resources if r["resourceType"] == "ServiceRequest"]
    assert len(lines) == 4
    new_task = [
        r
        for r in resources
        if r["resourceType"] == "Task"
        and r.get("focus", {}).get("reference") == f"ServiceRequest/{added['id']}"
    ]
    assert new_task[0]["status"] == "accepted"
    assert any(
        p["activity"]["coding"][0]["code"] == "adapt"
        for p in resources
        if p["resourceType"] == "Provenance"
    )


def test_biologist_replaces_a_line_with_a_reason(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    old = tasks(client, tokens.lab(), epu)["lines"][1]

    missing_reason = client.post(
        "/fhir/ServiceRequest",
        json=filler_order(epu, based_on=old["focus"]["reference"]),
        headers={**tokens.lab(), **FHIR_JSON},
    )
    response = client.post(
        "/fhir/ServiceRequest",
        json=filler_order(epu, based_on=old["focus"]["reference"]),
        headers={**tokens.lab(), **FHIR_JSON, **why("TSH seule non remboursée ici")},
    )

    assert (missing_reason.status_code, issue_codes(missing_reason)) == (422, ["REASON_REQUIRED"])
    assert response.status_code == 201
    now = tasks(client, tokens.prescriber(), epu)
    replaced = next(t for t in now["lines"] if t["id"] == old["id"])
    assert replaced["status"] == "cancelled"
    assert replaced["statusReason"]["text"] == "TSH seule non remboursée ici"
    provenance = [
        r for r in pulled(client, tokens.prescriber(), epu) if r["resourceType"] == "Provenance"
    ]
    assert any(
        p.get("reason", [{}])[0].get("text") == "TSH seule non remboursée ici" for p in provenance
    )


def test_removing_a_line_needs_a_reason(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    line = tasks(client, tokens.lab(), epu)["lines"][2]

    silent = set_status(client, tokens.lab(), line, "cancelled")
    explained = set_status(
        client, tokens.lab(), line, "cancelled", statusReason={"text": "Examen redondant"}
    )

    assert (silent.status_code, issue_codes(silent)) == (422, ["REASON_REQUIRED"])
    assert explained.status_code == 200
    assert explained.json()["statusReason"]["text"] == "Examen redondant"


def test_adapting_needs_the_hold_and_a_code_from_the_value_set(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)

    not_holder = client.post(
        "/fhir/ServiceRequest",
        json=filler_order(epu),
        headers={**tokens.lab(OTHER_LAB), **FHIR_JSON},
    )
    bad_code = client.post(
        "/fhir/ServiceRequest",
        json=filler_order(epu, "99999-9"),
        headers={**tokens.lab(), **FHIR_JSON},
    )

    assert (not_holder.status_code, issue_codes(not_holder)) == (409, ["NOT_LOCK_HOLDER"])
    assert (bad_code.status_code, issue_codes(bad_code)) == (422, ["CODE_NOT_IN_VALUESET"])


def test_prescriber_cancels_and_labs_are_told_it_is_gone(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens)

    response = operation(client, "cancel", tokens.prescriber(), epu, reason="Erreur de patient")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    claim = operation(client, "claim", tokens.lab(), epu)
    assert (claim.status_code, issue_codes(claim)) == (410, ["EPU_CANCELLED"])
    statuses = {
        t["status"] for t in pulled(client, tokens.lab(), epu) if t["resourceType"] == "Task"
    }
    assert statuses == {"cancelled"}
    assert (
        operation(client, "cancel", tokens.prescriber("10109876543"), epu, reason="x").status_code
        == 404
    )


def test_cancel_is_refused_once_a_line_is_completed(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    set_status(client, tokens.lab(), tasks(client, tokens.lab(), epu)["lines"][0], "completed")

    response = operation(client, "cancel", tokens.prescriber(), epu, reason="trop tard")

    assert response.status_code == 409
    assert tasks(client, tokens.prescriber(), epu)["group"]["status"] == "in-progress"


def test_cancel_needs_a_reason(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    response = operation(client, "cancel", tokens.prescriber(), epu)
    assert (response.status_code, issue_codes(response)) == (400, ["MISSING_PARAMETER"])


def _renewable(times: int):  # type: ignore[no-untyped-def]
    def change(bundle: dict[str, Any]) -> None:
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "ServiceRequest":
                entry["resource"]["occurrenceTiming"] = {
                    "repeat": {"count": times, "period": 1, "periodUnit": "mo"}
                }

    return change


def _complete_round(client: TestClient, tokens: Tokens, epu: str) -> None:
    assert operation(client, "claim", tokens.lab(), epu).status_code == 200
    for line in tasks(client, tokens.lab(), epu)["lines"]:
        assert set_status(client, tokens.lab(), line, "completed").status_code == 200


def _round(task: dict[str, Any]) -> int:
    return next(int(i["valueUnsignedInt"]) for i in task["input"] if i["type"]["text"] == "round")


def test_renewable_prescription_comes_back_until_its_count_is_used(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens, change=_renewable(2))

    _complete_round(client, tokens, epu)
    after_first = tasks(client, tokens.prescriber(), epu)
    assert after_first["group"]["status"] == "requested"
    assert _round(after_first["group"]) == 2
    assert {t["status"] for t in after_first["lines"]} == {"requested"}

    _complete_round(client, tokens, epu)
    assert tasks(client, tokens.prescriber(), epu)["group"]["status"] == "completed"
    third = operation(client, "claim", tokens.lab(), epu)
    assert (third.status_code, issue_codes(third)) == (410, ["EPU_COMPLETED"])


def test_expired_prescription_cannot_be_claimed(client: TestClient, tokens: Tokens) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def old(bundle: dict[str, Any]) -> None:
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "ServiceRequest":
                entry["resource"]["authoredOn"] = long_ago

    epu = new_prescription(client, tokens, change=old)
    response = operation(client, "claim", tokens.lab(), epu)
    assert (response.status_code, issue_codes(response)) == (410, ["EPU_EXPIRED"])


def test_prescriber_lists_their_prescriptions_with_paging(
    client: TestClient, tokens: Tokens
) -> None:
    mine = [new_prescription(client, tokens) for _ in range(3)]
    operation(client, "claim", tokens.lab(), mine[0])

    page = client.get("/fhir/Task?status=requested&_count=1", headers=tokens.prescriber())
    accepted = client.get("/fhir/Task?status=accepted", headers=tokens.prescriber())
    someone_else = client.get("/fhir/Task", headers=tokens.prescriber("10109876543"))
    asking_for_another = client.get(
        "/fhir/Task?requester=https://rpps.esante.gouv.fr|10109876543", headers=tokens.prescriber()
    )

    assert page.status_code == 200
    assert len(page.json()["entry"]) == 1
    next_url = next(link["url"] for link in page.json()["link"] if link["relation"] == "next")
    second = client.get(next_url.replace("http://testserver", ""), headers=tokens.prescriber())
    assert len(second.json()["entry"]) == 1
    assert second.json()["entry"][0]["resource"]["id"] != page.json()["entry"][0]["resource"]["id"]
    assert [e["resource"]["groupIdentifier"]["value"] for e in accepted.json()["entry"]] == [
        mine[0]
    ]
    assert someone_else.json()["entry"] == []
    assert asking_for_another.json()["entry"] == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert (
        client.get(
            f"/fhir/Task?_lastUpdated=gt{later:%Y-%m-%dT%H:%M:%SZ}", headers=tokens.prescriber()
        ).json()["entry"]
        == []
    )
