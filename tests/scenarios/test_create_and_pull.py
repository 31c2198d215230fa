"""Given a prescriber's Bundle, the gateway stores it anonymously, answers its EPU ID, and a lab
pulls it back by that ID."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.domain import epu_id
from tests.conftest import LAB, Tokens, create, created_epu, example, issue_codes

PULL = (
    "/fhir/ServiceRequest?requisition={system}|{epu}&_include=ServiceRequest:requester"
    "&_include=ServiceRequest:subject&_revinclude=Task:focus"
)


def pull(client: TestClient, headers: dict[str, str], code: str):  # type: ignore[no-untyped-def]
    return client.get(PULL.format(system=epu_id.EPU_SYSTEM, epu=code), headers=headers)


def test_created_prescription_carries_its_epu_on_every_line_and_tasks_are_requested(
    client: TestClient, tokens: Tokens
) -> None:
    response = create(
        client, tokens, example("prescription-prolactine"), Prefer="return=representation"
    )

    assert response.status_code == 201
    answer = response.json()
    assert answer["type"] == "transaction-response"
    epu = answer["identifier"]["value"]
    assert epu_id.is_valid(epu)
    resources = [entry["resource"] for entry in answer["entry"]]
    lines = [r for r in resources if r["resourceType"] == "ServiceRequest"]
    assert len(lines) == 3
    for line in lines:
        assert line["requisition"]["system"] == epu_id.EPU_SYSTEM
        assert line["requisition"]["value"] == epu
        assert line["meta"]["versionId"] == "1"
    tasks = [r for r in resources if r["resourceType"] == "Task"]
    assert len(tasks) == 4
    assert {t["status"] for t in tasks} == {"requested"}
    assert all(t["groupIdentifier"]["value"] == epu for t in tasks)
    group = [t for t in tasks if "focus" not in t]
    assert len(group) == 1
    focused = {t["focus"]["reference"] for t in tasks if "focus" in t}
    assert focused == {f"ServiceRequest/{line['id']}" for line in lines}
    assert all(
        t["partOf"] == [{"reference": f"Task/{group[0]['id']}"}] for t in tasks if "focus" in t
    )


def test_patient_is_stored_anonymised_and_the_answer_says_what_was_dropped(
    client: TestClient, tokens: Tokens
) -> None:
    response = create(
        client, tokens, example("prescription-prolactine"), Prefer="return=representation"
    )

    entries = response.json()["entry"]
    patient_entry = next(e for e in entries if e["resource"]["resourceType"] == "Patient")
    patient = patient_entry["resource"]
    assert {k for k in patient if k not in ("id", "meta", "resourceType")} == {
        "gender",
        "birthDate",
    }
    assert patient["birthDate"] == "1984-07"
    issue = patient_entry["response"]["outcome"]["issue"][0]
    assert issue["severity"] == "information"
    for element in ("Patient.name", "Patient.identifier", "Patient.telecom", "Patient.address"):
        assert element in issue["diagnostics"]


def test_minimal_answer_has_locations_but_no_bodies(client: TestClient, tokens: Tokens) -> None:
    response = create(client, tokens, example("prescription-prolactine"))

    entries = response.json()["entry"]
    assert all("resource" not in entry for entry in entries)
    assert all(entry["response"]["status"] == "201 Created" for entry in entries)
    assert all("/_history/1" in entry["response"]["location"] for entry in entries)


def test_lab_pulls_the_prescription_with_requester_subject_and_tasks(
    client: TestClient, tokens: Tokens
) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))

    response = pull(client, tokens.lab(), epu)

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 3
    by_type: dict[str, list[dict[str, object]]] = {}
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry)
    assert {e["search"]["mode"] for e in by_type["ServiceRequest"]} == {"match"}
    assert len(by_type["Task"]) == 4
    assert len(by_type["Practitioner"]) == 1
    assert len(by_type["Patient"]) == 1
    assert len(by_type["Observation"]) == 1
    codes = [e["resource"]["code"] for e in by_type["ServiceRequest"]]  # type: ignore[index]
    assert codes[0]["coding"][0]["code"] == "2842-3"  # lines come back in the order written


def test_typed_code_in_any_accepted_spelling_finds_the_prescription(
    client: TestClient, tokens: Tokens
) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))
    spellings = [
        epu_id.grouped(epu),
        epu_id.grouped(epu).lower(),
        f"EPU:{epu}",
        epu.replace("0", "O"),
    ]

    for spelling in spellings:
        assert pull(client, tokens.lab(), spelling).status_code == 200, spelling
    bare = client.get(
        f"/fhir/ServiceRequest?requisition={epu_id.grouped(epu)}", headers=tokens.lab()
    )
    assert bare.status_code == 200


def test_unknown_mistyped_and_malformed_codes_are_told_apart(
    client: TestClient, tokens: Tokens
) -> None:
    unknown = epu_id.generate()
    mistyped = unknown[:-1] + ("0" if unknown[-1] != "0" else "1")

    assert pull(client, tokens.lab(), unknown).status_code == 404
    assert issue_codes(pull(client, tokens.lab(), unknown)) == ["EPU_UNKNOWN"]
    assert pull(client, tokens.lab(), mistyped).status_code == 400
    assert issue_codes(pull(client, tokens.lab(), mistyped)) == ["EPU_CHECK_MISMATCH"]
    assert issue_codes(pull(client, tokens.lab(), "ABC")) == ["EPU_MALFORMED"]
    assert pull(client, tokens.lab(), "ABC").json()["issue"][0]["expression"] == ["requisition"]


def test_another_prescriber_cannot_learn_the_prescription_exists(
    client: TestClient, tokens: Tokens
) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))

    assert pull(client, tokens.prescriber("10109876543"), epu).status_code == 404
    assert pull(client, tokens.prescriber(), epu).status_code == 200


def test_same_bundle_identifier_gives_the_first_answer_and_no_second_prescription(
    client: TestClient, tokens: Tokens
) -> None:
    bundle = example("prescription-prolactine")
    first = create(client, tokens, bundle)
    again = create(client, tokens, bundle)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["identifier"] == first.json()["identifier"]
    changed = {**bundle, "entry": bundle["entry"][:-1]}
    conflict = create(client, tokens, changed)
    assert conflict.status_code == 409
    assert issue_codes(conflict) == ["IDEMPOTENCY_CONFLICT"]


def test_idempotency_key_header_also_guards_retries(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    del bundle["identifier"]

    first = create(client, tokens, bundle, **{"Idempotency-Key": "retry-42"})
    again = create(client, tokens, bundle, **{"Idempotency-Key": "retry-42"})
    fresh = create(client, tokens, bundle)

    assert first.json()["identifier"] == again.json()["identifier"]
    assert fresh.json()["identifier"] != first.json()["identifier"]


def test_lab_token_cannot_create_and_a_lab_sees_it_with_its_own_token(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.post(
        "/fhir", json=example("prescription-prolactine"), headers={**tokens.lab(LAB)}
    )
    assert response.status_code == 403
    assert issue_codes(response) == ["ROLE_NOT_ALLOWED"]
