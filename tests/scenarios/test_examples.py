"""Every example Bundle shipped in fhir_profiles/examples is accepted and pulled back whole."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import EXAMPLES, Tokens, create, created_epu, example

NAMES = sorted(path.stem.removeprefix("Bundle-") for path in EXAMPLES.glob("Bundle-*.json"))


def test_there_is_one_example_per_use_case() -> None:
    assert len(NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_example_is_accepted_and_pulled_back_with_every_line(
    client: TestClient, tokens: Tokens, name: str
) -> None:
    bundle = example(name)
    written = [
        entry["resource"]["code"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "ServiceRequest"
    ]

    response = create(client, tokens, bundle)
    assert response.status_code == 201, response.text
    epu = created_epu(response)
    pulled = client.get(f"/fhir/ServiceRequest?requisition={epu}", headers=tokens.lab())

    lines = [e["resource"] for e in pulled.json()["entry"] if e["search"]["mode"] == "match"]
    assert [line["code"] for line in lines] == written
    originals = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    ]
    for line, original in zip(lines, originals, strict=True):
        assert line.get("extension") == original.get("extension")
        assert line.get("occurrenceTiming") == original.get("occurrenceTiming")
        assert line.get("patientInstruction") == original.get("patientInstruction")
