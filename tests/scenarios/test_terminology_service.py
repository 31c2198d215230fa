"""The terminology service over HTTP: search the JDV as prescribers type, check and look up codes,
and follow a release imported with `epu terminology import`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import terminology_import
from app.config import Settings
from app.terminology.concepts import JDV_URL
from tests.conftest import FHIR_JSON, Tokens, create, example, issue_codes
from tests.scenarios.workflow_steps import filler_order, new_prescription, operation

FIXTURES = Path(__file__).resolve().parents[1] / "terminology" / "fixtures"
REPO = Path(__file__).resolve().parents[2]
LOINC = "http://loinc.org"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every request re-checks the active release, as another instance would after its interval.
    return settings.model_copy(update={"terminology_refresh_seconds": 0})


def expand(client: TestClient, tokens: Tokens, **query: Any) -> Any:
    return client.get("/fhir/ValueSet/$expand", params=query, headers=tokens.prescriber())


def codes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [entry["code"] for entry in response.json()["expansion"].get("contains", [])]


def parameter(response: Any, name: str) -> Any:
    found = [p for p in response.json()["parameter"] if p["name"] == name]
    assert found, response.json()
    return found[0]


def used(response: Any, name: str) -> Any:
    """The value the expansion says it used for `name`: valueString or valueInteger."""
    for used in response.json()["expansion"]["parameter"]:
        if used["name"] == name:
            return used.get("valueString", used.get("valueInteger"))
    return None


def write_release(directory: Path, name: str, rows: list[str]) -> Path:
    path = directory / name
    path.write_text("Code;Libellé;Synonymes\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_nfs_finds_the_blood_count_first(client: TestClient, tokens: Tokens) -> None:
    response = expand(client, tokens, url=JDV_URL, filter="nfs")

    assert codes(response)[0] == "57022-6"
    first = response.json()["expansion"]["contains"][0]
    assert first["system"] == LOINC
    assert "NFS" in [d["value"] for d in first["designation"]]
    assert used(response, "filter") == "nfs"
    assert used(response, "version") == response.json()["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("hemogramme", "57022-6"), ("TSH", "3016-3"), ("glycemie a jeun", "1558-6"),
     ("GLYCÉMIE À JEUN", "1558-6")],
)  # fmt: skip
def test_search_ignores_case_and_accents(
    client: TestClient, tokens: Tokens, typed: str, code: str
) -> None:
    assert codes(expand(client, tokens, filter=typed))[0] == code


def test_pages_follow_count_and_offset(client: TestClient, tokens: Tokens) -> None:
    whole = expand(client, tokens, filter="g", count=1000)
    total = whole.json()["expansion"]["total"]

    first = expand(client, tokens, filter="g", count=5)
    second = expand(client, tokens, filter="g", count=5, offset=5)
    beyond = expand(client, tokens, filter="g", count=5, offset=total)

    assert total > 10
    assert codes(first) + codes(second) == codes(whole)[:10]
    assert second.json()["expansion"]["offset"] == 5
    assert (used(second, "count"), used(second, "offset")) == (5, 5)
    assert codes(beyond) == [] and beyond.json()["expansion"]["total"] == total


def test_without_count_a_page_is_capped(client: TestClient, tokens: Tokens) -> None:
    response = expand(client, tokens)
    assert response.json()["expansion"]["total"] > 100
    assert len(codes(response)) == 100


@pytest.mark.parametrize(
    "query", [{"count": 1001}, {"offset": -1}, {"count": -1}, {"offset": 2**31}, {"count": "x"}]
)
def test_unbounded_pages_are_refused(client: TestClient, tokens: Tokens, query: Any) -> None:
    response = expand(client, tokens, filter="a", **query)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_another_value_set_is_not_found(client: TestClient, tokens: Tokens) -> None:
    response = expand(client, tokens, url="http://example.org/ValueSet/other", filter="nfs")
    assert response.status_code == 404
    assert issue_codes(response) == ["VALUESET_UNKNOWN"]


def test_terminology_needs_a_token_but_any_role(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/fhir/ValueSet/$expand?filter=nfs").status_code == 401
    for headers in (tokens.lab(), tokens.admin()):
        response = client.get("/fhir/ValueSet/$expand?filter=nfs", headers=headers)
        assert response.status_code == 200


def test_validate_code_answers_true_with_the_label_or_false_with_why(
    client: TestClient, tokens: Tokens
) -> None:
    query = f"/fhir/ValueSet/$validate-code?url={JDV_URL}&system={LOINC}&code="
    known = client.get(query + "2842-3", headers=tokens.lab())
    unknown = client.get(query + "2947-0", headers=tokens.lab())

    assert parameter(known, "result")["valueBoolean"] is True
    assert parameter(known, "display")["valueString"].startswith("Prolactine")
    assert parameter(unknown, "result")["valueBoolean"] is False
    assert "2947-0" in parameter(unknown, "message")["valueString"]


def test_lookup_of_prolactin_says_the_last_period_date_is_needed(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.get(
        f"/fhir/CodeSystem/$lookup?system={LOINC}&code=2842-3", headers=tokens.prescriber()
    )

    assert response.status_code == 200
    assert parameter(response, "display")["valueString"].startswith("Prolactine")
    properties = [
        {part["name"]: part for part in p["part"]}
        for p in response.json()["parameter"]
        if p["name"] == "property"
    ]
    assert {"code": "clinical-context-required", "value": True} in [
        {"code": p["code"]["valueCode"], "value": p["value"].get("valueBoolean")}
        for p in properties
    ]
    needed = [p["value"]["valueCoding"]["code"] for p in properties if "valueCoding" in p["value"]]
    assert needed == ["8665-2"]
    synonyms = [
        part["valueString"]
        for p in response.json()["parameter"]
        if p["name"] == "designation"
        for part in p["part"]
        if part["name"] == "value"
    ]
    assert "PRL" in synonyms


def test_lookup_of_a_code_outside_the_value_set_is_not_found(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.get(
        f"/fhir/CodeSystem/$lookup?system={LOINC}&code=2947-0", headers=tokens.prescriber()
    )
    assert response.status_code == 404
    assert issue_codes(response) == ["CODE_NOT_IN_VALUESET"]


def test_after_an_import_prescriptions_follow_the_new_release(
    client: TestClient, tokens: Tokens, settings: Settings, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # Given a release with prolactin and sodium (new) but without TSH
    release = write_release(
        tmp_path, "jdv-2025-03.csv", ["2842-3;Prolactine;PRL", "2947-0;Sodium sanguin;natrémie"]
    )
    assert terminology_import(settings, release) == 0
    assert "2 concepts accepted, 0 rows rejected" in capsys.readouterr().out

    # then the example with TSH is refused for TSH alone
    refused = create(client, tokens, example("prescription-prolactine"))
    assert refused.status_code == 422
    assert issue_codes(refused) == ["CODE_NOT_IN_VALUESET"]
    assert "3016-3" in refused.json()["issue"][0]["diagnostics"]

    # and a line for the new code is accepted
    bundle = example("prescription-prolactine")
    for entry in bundle["entry"]:
        coding = entry["resource"].get("code", {}).get("coding", [{}])[0]
        if coding.get("code") == "3016-3":
            coding.update(code="2947-0", display="Sodium sanguin")
    assert create(client, tokens, bundle).status_code == 201

    # and the service shows the new version
    response = expand(client, tokens, filter="natremie")
    assert codes(response) == ["2947-0"]
    assert used(response, "version") == response.json()["version"] == "jdv-2025-03"


def test_a_biologist_adapts_with_the_codes_of_the_new_release(
    client: TestClient, tokens: Tokens, settings: Settings, tmp_path: Path
) -> None:
    epu = new_prescription(client, tokens)
    operation(client, "claim", tokens.lab(), epu)
    release = write_release(tmp_path, "jdv-2025-03.csv", ["2947-0;Sodium sanguin;natrémie"])
    assert terminology_import(settings, release) == 0

    def adapt(code: str) -> Any:
        return client.post(
            "/fhir/ServiceRequest",
            json=filler_order(epu, code),
            headers={**tokens.lab(), **FHIR_JSON},
        )

    dropped, added = adapt("2160-0"), adapt("2947-0")

    assert (dropped.status_code, issue_codes(dropped)) == (422, ["CODE_NOT_IN_VALUESET"])
    assert added.status_code == 201, added.text


def test_a_refused_import_leaves_the_previous_release_active(
    client: TestClient, tokens: Tokens, settings: Settings, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    good = write_release(tmp_path, "jdv-2025-03.csv", ["2947-0;Sodium sanguin;natrémie"])
    no_valid_row = write_release(tmp_path, "jdv-2025-04.csv", [";sans code;", "2947-1;clé fausse;"])
    unreadable = tmp_path / "jdv-2025-05.xml"
    unreadable.write_text("<ValueSet><ConceptList>", encoding="utf-8")
    assert terminology_import(settings, good) == 0

    assert terminology_import(settings, no_valid_row) == 1
    assert terminology_import(settings, unreadable) == 1

    errors = capsys.readouterr().err
    assert "no valid row (2 rejected)" in errors
    assert "rejected line 3: LOINC check digit mismatch" in errors
    assert "not XML" in errors
    response = expand(client, tokens, filter="natremie")
    assert used(response, "version") == "jdv-2025-03"
    assert codes(response) == ["2947-0"]


def test_the_command_line_imports_once_and_then_says_already_loaded(
    client: TestClient, tokens: Tokens, settings: Settings
) -> None:
    environment = {
        "EPU_DATA_DIR": str(settings.data_dir),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **({"EPU_DATABASE_URL": settings.database_url} if settings.database_url else {}),
    }
    command = [sys.executable, "-m", "app.cli", "terminology", "import",
               "tests/terminology/fixtures/jdv.csv"]  # fmt: skip

    first = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True)
    second = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True)

    assert first.returncode == 0, first.stderr
    assert "6 concepts accepted, 1 row rejected" in first.stdout
    assert "rejected line 7: missing code" in first.stdout
    assert "it is now active" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout
    assert used(expand(client, tokens, filter="nfs"), "version") == "jdv"
