"""What a prescriber's software gets wrong is answered 4xx with an OperationOutcome saying what
and where, and nothing is stored."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.store.tables import Prescription, StoredResource
from tests.conftest import FHIR_JSON, OTHER_RPPS, Tokens, create, example, issue_codes


def stored_count(client: TestClient) -> int:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return int(
            session.execute(select(func.count()).select_from(StoredResource)).scalar_one()
        ) + int(session.execute(select(func.count()).select_from(Prescription)).scalar_one())


def line(bundle: dict[str, Any], index: int = 0) -> dict[str, Any]:
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    resource: dict[str, Any] = entries[index]["resource"]
    return resource


def expressions(response: Any) -> list[str]:
    return [e for issue in response.json()["issue"] for e in issue.get("expression", [])]


def test_code_outside_the_value_set_is_refused_with_its_path(
    client: TestClient, tokens: Tokens
) -> None:
    bundle = example("prescription-prolactine")
    line(bundle, 1)["code"]["coding"][0]["code"] = "99999-9"

    response = create(client, tokens, bundle)

    assert response.status_code == 422
    assert issue_codes(response) == ["CODE_NOT_IN_VALUESET"]
    assert expressions(response) == ["Bundle.entry[4].resource.code.coding[0].code"]
    assert stored_count(client) == 0


def test_missing_clinical_context_is_a_warning_and_the_line_is_accepted(
    client: TestClient, tokens: Tokens
) -> None:
    bundle = example("prescription-prolactine")
    del line(bundle)["supportingInfo"]

    response = create(client, tokens, bundle)

    assert response.status_code == 201
    outcomes = [e["response"].get("outcome") for e in response.json()["entry"]]
    warnings = [i for o in outcomes if o for i in o["issue"] if i["severity"] == "warning"]
    assert len(warnings) == 1
    assert "8665-2" in warnings[0]["diagnostics"]
    assert warnings[0]["expression"] == ["Bundle.entry[3].resource.supportingInfo"]


def test_several_problems_are_reported_together(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    line(bundle, 0)["intent"] = "plan"
    line(bundle, 1)["category"] = []
    line(bundle, 2)["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}

    response = create(client, tokens, bundle)

    assert response.status_code == 422
    assert set(expressions(response)) == {
        "Bundle.entry[3].resource.intent",
        "Bundle.entry[4].resource.category",
        "Bundle.entry[5].resource.code",
    }


def test_structure_errors_name_the_element(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    bundle["entry"][0]["resource"]["gender"] = "femme"
    bundle["entry"][2]["resource"]["valueDateTime"] = "2026-13-45"
    line(bundle)["colour"] = "blue"

    response = create(client, tokens, bundle)

    assert response.status_code == 400
    assert set(expressions(response)) == {
        "Bundle.entry[0].resource.gender",
        "Bundle.entry[2].resource.valueDateTime",
        "Bundle.entry[3].resource.colour",
    }
    assert stored_count(client) == 0


def test_practitioner_who_is_not_the_caller_is_forbidden(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.post(
        "/fhir",
        json=example("prescription-prolactine"),
        headers={**tokens.prescriber(OTHER_RPPS), **FHIR_JSON},
    )

    assert response.status_code == 403
    assert issue_codes(response) == ["PRACTITIONER_MISMATCH"]
    assert expressions(response) == ["Bundle.entry[1].resource.identifier"]


def test_rpps_in_the_directory_url_form_is_accepted(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    bundle["entry"][1]["resource"]["identifier"] = [
        {"system": "https://rpps.esante.gouv.fr", "value": "10101201234"}
    ]
    assert create(client, tokens, bundle).status_code == 201


def with_lines(count: int) -> dict[str, Any]:
    """The example prescription with `count` TSH lines."""
    bundle = example("prescription-prolactine")
    template = bundle["entry"][4]
    bundle["entry"] = bundle["entry"][:3]
    for index in range(count):
        entry = copy.deepcopy(template)
        entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
        bundle["entry"].append(entry)
    return bundle


def test_fifty_one_lines_are_too_many(client: TestClient, tokens: Tokens) -> None:
    response = create(client, tokens, with_lines(51))

    assert response.status_code == 422
    assert "TOO_MANY_LINES" in issue_codes(response)


def test_fifty_lines_are_accepted(client: TestClient, tokens: Tokens) -> None:
    assert create(client, tokens, with_lines(50)).status_code == 201


def test_unknown_resource_type_is_refused_not_crashed(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:99",
            "resource": {"resourceType": "Spaceship"},
            "request": {"method": "POST"},
        }
    )

    response = create(client, tokens, bundle)

    assert response.status_code == 400
    assert "Bundle.entry[6].resource.resourceType" in expressions(response)


def test_dangling_reference_is_refused(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    line(bundle)["supportingInfo"] = [
        {"reference": "urn:uuid:ffffffff-0000-4000-8000-000000000000"}
    ]

    response = create(client, tokens, bundle)

    assert response.status_code == 422
    assert expressions(response) == ["Bundle.entry[3].resource.supportingInfo[0].reference"]


def test_malformed_json_wrong_type_and_oversized_bodies_are_4xx(
    client: TestClient, tokens: Tokens
) -> None:
    headers = {**tokens.prescriber(), **FHIR_JSON}
    malformed = client.post("/fhir", content=b'{"resourceType": "Bundle",', headers=headers)
    wrong_type = client.post(
        "/fhir",
        content=b"<Bundle/>",
        headers={**tokens.prescriber(), "Content-Type": "application/xml"},
    )
    too_big = client.post("/fhir", content=b" " * 1_000_001, headers=headers)
    nested = client.post("/fhir", content=b"[" * 10_000 + b"]" * 10_000, headers=headers)
    not_a_bundle = client.post("/fhir", json={"resourceType": "Patient"}, headers=headers)

    assert (malformed.status_code, issue_codes(malformed)) == (400, ["MALFORMED_JSON"])
    assert (wrong_type.status_code, issue_codes(wrong_type)) == (415, ["UNSUPPORTED_MEDIA_TYPE"])
    assert (too_big.status_code, issue_codes(too_big)) == (413, ["PAYLOAD_TOO_LARGE"])
    assert nested.status_code == 400
    assert not_a_bundle.status_code == 400
    assert stored_count(client) == 0


def test_a_body_nested_past_64_levels_is_refused_as_too_deep(
    client: TestClient, tokens: Tokens
) -> None:
    headers = {**tokens.prescriber(), **FHIR_JSON}
    inside_strings = b'{"resourceType": "Bundle", "id": "' + b"[{" * 100 + b'"}'

    too_deep = client.post("/fhir", content=b"[" * 65 + b"]" * 65, headers=headers)
    deep_enough = client.post("/fhir", content=b"[" * 64 + b"]" * 64, headers=headers)
    brackets_in_strings = client.post("/fhir", content=inside_strings, headers=headers)

    assert (too_deep.status_code, issue_codes(too_deep)) == (400, ["JSON_TOO_DEEP"])
    assert deep_enough.status_code == 400
    assert "JSON_TOO_DEEP" not in issue_codes(deep_enough)
    assert brackets_in_strings.status_code == 400
    assert "JSON_TOO_DEEP" not in issue_codes(brackets_in_strings)
    assert stored_count(client) == 0


def test_our_extensions_must_carry_their_value_type(client: TestClient, tokens: Tokens) -> None:
    bundle = example("prescription-prolactine")
    line(bundle)["extension"] = [
        {"url": "https://epu-gateway/fhir/StructureDefinition/epu-ald", "valueString": "oui"}
    ]
    line(bundle, 1)["modifierExtension"] = [
        {"url": "https://example.org/do-not", "valueBoolean": True}
    ]

    response = create(client, tokens, bundle)

    assert response.status_code == 422
    assert set(expressions(response)) == {
        "Bundle.entry[3].resource.extension[0]",
        "Bundle.entry[4].resource.modifierExtension[0]",
    }


def test_authored_on_and_repeat_count_of_the_wrong_type_are_400_not_500(
    client: TestClient, tokens: Tokens
) -> None:
    bundle = example("prescription-prolactine")
    line(bundle)["authoredOn"] = 2.4452486235464086e-29  # found by the fuzzer
    line(bundle, 1)["occurrenceTiming"] = {"repeat": {"count": "three"}}

    response = create(client, tokens, bundle)

    assert response.status_code == 400
    assert stored_count(client) == 0
