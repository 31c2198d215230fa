"""Whatever arrives as a body, the answer is a 4xx OperationOutcome, nothing is stored, and the
gateway goes on serving: the next honest prescription is created."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FHIR_JSON, Tokens, create, example, issue_codes
from tests.scenarios.test_create_refusals import stored_count


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def bundle_with(change: str) -> bytes:
    bundle: dict[str, Any] = example("prescription-prolactine")
    resources = [entry["resource"] for entry in bundle["entry"]]
    line = next(r for r in resources if r["resourceType"] == "ServiceRequest")
    if change == "huge count":
        line["occurrenceTiming"] = {"repeat": {"count": 10**30}}
    elif change == "huge float":
        return json.dumps(bundle).replace('"priority": "routine"', '"priority": 1e400').encode()
    elif change == "huge code":
        line["code"]["coding"][0]["code"] = "9" * 900_000
    elif change == "deep extension":
        # Built as text: 500 levels are past what json.dumps itself would recurse through.
        deep = '{"url": "http://x", "extension": [' * 500 + '{"url": "http://x"}' + "]}" * 500
        line["extension"] = ["DEEP"]
        return json.dumps(bundle).replace('"DEEP"', deep).encode()
    return json.dumps(bundle).encode()


CASES = {
    "over 1 MB": (b'{"resourceType": "Bundle", "x": "' + b"a" * 1_000_001 + b'"}', FHIR_JSON, 413),
    "10,000 levels": (nested(10_000).encode(), FHIR_JSON, 400),
    "500 levels inside a Bundle": (None, FHIR_JSON, 400),
    "not UTF-8": (b'{"resourceType": "Bundle", "id": "\xff\xfe"}', FHIR_JSON, 400),
    "XML": (b"<Bundle/>", {"Content-Type": "application/xml"}, 415),
    "no Content-Type": (b"{}", {}, 415),
    "empty": (b"", FHIR_JSON, 400),
    "array": (b"[]", FHIR_JSON, 400),
    "string": (b'"Bundle"', FHIR_JSON, 400),
    "huge count": (None, FHIR_JSON, 400),
    "huge float": (None, FHIR_JSON, 400),
    "huge code": (None, FHIR_JSON, 422),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_body_is_refused_and_the_gateway_keeps_serving(
    client: TestClient, tokens: Tokens, case: str
) -> None:
    body, headers, status = CASES[case]
    if body is None:
        body = bundle_with("deep extension" if case.startswith("500") else case)
    before = stored_count(client)

    response = client.post("/fhir", content=body, headers={**tokens.prescriber(), **headers})

    assert response.status_code == status, response.text[:300]
    assert issue_codes(response)
    assert len(response.content) < 10_000, "refusals do not echo what they refuse"
    assert stored_count(client) == before
    assert create(client, tokens, example("prescription-prolactine")).status_code == 201
