"""Given a prescription, a lab claims it, works through its lines, and the prescriber follows."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.domain.epu_id import EPU_SYSTEM
from tests.conftest import FHIR_JSON, LAB, OTHER_LAB, Tokens, issue_codes
from tests.scenarios.workflow_steps import (
    claimed_line,
    new_prescription,
    operation,
    set_status,
    tasks,
)


def test_claim_makes_every_line_accepted_and_owned_by_the_lab(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens)

    response = operation(client, "claim", tokens.lab(), epu)

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset"
    claimed = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task"]
    assert {t["status"] for t in claimed} == {"accepted"}
    assert {t["owner"]["identifier"]["value"] for t in claimed} == {LAB}
    seen_by_prescriber = tasks(client, tokens.prescriber(), epu)
    assert seen_by_prescriber["group"]["status"] == "accepted"


def test_same_lab_claiming_again_gets_the_same_answer(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    first = operation(client, "claim", tokens.lab(), epu)

    again = operation(client, "claim", tokens.lab(), epu)

    def task_versions(response: object) -> dict[str, str]:
        entries = response.json()["entry"]  # type: ignore[attr-defined]
        return {
            e["resource"]["id"]: e["resource"]["meta"]["versionId"]
            for e in entries
            if e["resource"]["resourceType"] == "Task"
        }

    assert again.status_code == 200
    assert task_versions(again) == task_versions(first)  # nothing changed the second time


def test_another_lab_cannot_claim_while_it_is_held(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)

    response = operation(client, "claim", tokens.lab(OTHER_LAB), epu)

    assert response.status_code == 409
    assert issue_codes(response) == ["LOCKED_BY_OTHER_LAB"]


def test_release_by_the_holder_gives_it_back_and_another_lab_may_claim(
    client: TestClient, tokens: Tokens
) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)

    by_stranger = operation(client, "release", tokens.lab(OTHER_LAB), epu)
    by_holder = operation(client, "release", tokens.lab(), epu)

    assert (by_stranger.status_code, issue_codes(by_stranger)) == (409, ["NOT_LOCK_HOLDER"])
    assert by_holder.status_code == 200
    now = tasks(client, tokens.prescriber(), epu)
    assert now["group"]["status"] == "requested"
    assert all("owner" not in t for t in [now["group"], *now["lines"]])
    assert operation(client, "claim", tokens.lab(OTHER_LAB), epu).status_code == 200


def test_lab_marks_lines_done_and_the_group_summarises(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    lines = tasks(client, tokens.lab(), epu)["lines"]

    first = set_status(
        client, tokens.lab(), lines[0], "in-progress", businessStatus={"text": "specimen collected"}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] == 'W/"3"'
    assert tasks(client, tokens.prescriber(), epu)["group"]["status"] == "in-progress"

    for line in tasks(client, tokens.lab(), epu)["lines"]:
        assert set_status(client, tokens.lab(), line, "completed").status_code == 200
    assert tasks(client, tokens.prescriber(), epu)["group"]["status"] == "completed"


def test_json_patch_with_if_match_updates_a_line(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)

    response = client.patch(
        f"/fhir/Task/{line['id']}",
        json=[{"op": "replace", "path": "/status", "value": "completed"}],
        headers={
            **tokens.lab(),
            "Content-Type": "application/json-patch+json",
            "If-Match": f'W/"{line["meta"]["versionId"]}"',
        },
    )

    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_stale_version_gets_412(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)
    assert set_status(client, tokens.lab(), line, "in-progress").status_code == 200

    stale = set_status(client, tokens.lab(), line, "completed")

    assert stale.status_code == 412
    assert issue_codes(stale) == ["VERSION_CONFLICT"]


def test_a_lab_that_does_not_hold_it_cannot_update(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)

    response = set_status(client, tokens.lab(OTHER_LAB), line, "completed")

    assert response.status_code == 409
    assert issue_codes(response) == ["NOT_LOCK_HOLDER"]


def test_illegal_move_names_the_allowed_ones(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)
    done = set_status(client, tokens.lab(), line, "completed").json()

    back = set_status(client, tokens.lab(), done, "requested")

    assert back.status_code == 409
    assert issue_codes(back) == ["ILLEGAL_TRANSITION"]
    assert "'completed'" in back.json()["issue"][0]["diagnostics"]


def test_lab_cannot_change_what_the_gateway_keeps(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)

    response = set_status(
        client, tokens.lab(), line, "in-progress", focus={"reference": "ServiceRequest/x"}
    )

    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Task.focus"]


def test_a_malformed_lab_element_is_refused_where_it_is_and_nothing_changes(
    client: TestClient, tokens: Tokens
) -> None:
    epu, line = claimed_line(client, tokens)

    response = set_status(
        client, tokens.lab(), line, "in-progress", businessStatus={"text": 12, "coding": "x"}
    )

    assert response.status_code == 400
    expressions = {e for issue in response.json()["issue"] for e in issue["expression"]}
    assert expressions and all(e.startswith("Task.businessStatus") for e in expressions)
    again = tasks(client, tokens.lab(), epu)["lines"][0]
    assert (again["status"], again["meta"]["versionId"]) == ("accepted", line["meta"]["versionId"])


def test_an_invalid_value_in_an_element_the_gateway_keeps_is_refused(
    client: TestClient, tokens: Tokens
) -> None:
    epu, line = claimed_line(client, tokens)

    response = set_status(client, tokens.lab(), line, "in-progress", intent="not-a-code")

    assert response.status_code == 422
    assert issue_codes(response) == ["ELEMENT_NOT_CHANGEABLE"]
    assert response.json()["issue"][0]["expression"] == ["Task.intent"]


def test_update_without_if_match_is_refused(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)

    response = client.put(
        f"/fhir/Task/{line['id']}",
        json={**line, "status": "completed"},
        headers={**tokens.lab(), **FHIR_JSON},
    )

    assert response.status_code == 428


def test_history_shows_every_transition(client: TestClient, tokens: Tokens) -> None:
    epu, line = claimed_line(client, tokens)
    set_status(client, tokens.lab(), line, "completed")

    history = client.get(f"/fhir/Task/{line['id']}/_history", headers=tokens.prescriber())
    first = client.get(f"/fhir/Task/{line['id']}/_history/1", headers=tokens.prescriber())

    assert history.status_code == 200
    assert history.json()["type"] == "history"
    assert [e["resource"]["status"] for e in history.json()["entry"]] == [
        "completed",
        "accepted",
        "requested",
    ]
    assert first.json()["status"] == "requested"
    assert (
        client.get(
            f"/fhir/Task/{line['id']}/_history", headers=tokens.prescriber("10109876543")
        ).status_code
        == 404
    )


def test_audit_trail_shows_who_pulled_and_changed_it(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    client.get(f"/fhir/ServiceRequest?requisition={epu}", headers=tokens.lab())
    operation(client, "claim", tokens.lab(OTHER_LAB), epu)
    operation(client, "claim", tokens.lab(), epu)  # refused: held by the other lab

    trail = client.get(
        f"/fhir/AuditEvent?entity-identifier={EPU_SYSTEM}|{epu}", headers=tokens.prescriber()
    )

    assert trail.status_code == 200
    events = [e["resource"] for e in trail.json()["entry"]]
    actions = [(e["subtype"][0]["code"], e["outcome"]) for e in events]
    assert actions == [("create", "0"), ("pull", "0"), ("claim", "0"), ("claim", "4")]
    assert events[3]["agent"][0]["who"]["identifier"]["value"] == LAB
    for stranger in (tokens.prescriber("10109876543"), tokens.lab()):
        assert (
            client.get(f"/fhir/AuditEvent?entity-identifier={epu}", headers=stranger).status_code
            == 404
        )


def test_a_status_outside_the_task_status_codes_is_refused_and_nothing_moves(
    client: TestClient, tokens: Tokens
) -> None:
    epu, line = claimed_line(client, tokens)

    refused = set_status(client, tokens.lab(), line, "finished")
    as_number = set_status(client, tokens.lab(), line, 3)  # type: ignore[arg-type]

    assert refused.status_code == 400
    issue = refused.json()["issue"][0]
    assert (issue["code"], issue["expression"]) == ("code-invalid", ["Task.status"])
    assert "finished" in issue["diagnostics"]
    assert as_number.status_code == 400
    assert as_number.json()["issue"][0]["expression"] == ["Task.status"]
    after = tasks(client, tokens.lab(), epu)["lines"][0]
    assert (after["status"], after["meta"]["versionId"]) == ("accepted", line["meta"]["versionId"])
