"""What answers without a token, and the QR code of a prescription."""

from __future__ import annotations

import io
import subprocess
import sys

from fastapi.testclient import TestClient
from PIL import Image
from pyzbar.pyzbar import decode

from app.config import Settings
from app.domain import epu_id
from tests.conftest import Tokens, create, created_epu, example


def test_metadata_is_a_capability_statement_without_a_token(client: TestClient) -> None:
    response = client.get("/fhir/metadata")

    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert {"ServiceRequest", "Task"} <= types


def test_capability_statement_matches_the_routes(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    paths = set(client.get("/openapi.json").json()["paths"])
    resources = statement["rest"][0]["resource"]

    operations = {
        f"/fhir/{r['type']}/${op['name']}" for r in resources for op in r.get("operation", [])
    }
    operations |= {f"/fhir/${op['name']}" for op in statement["rest"][0].get("operation", [])}
    searched = {
        f"/fhir/{r['type']}"
        for r in resources
        if any(i["code"] == "search-type" for i in r.get("interaction", []))
    }

    assert operations <= paths
    assert searched <= paths
    fhir_paths = {
        p for p in paths if p.startswith("/fhir/") and "{" not in p and p != "/fhir/metadata"
    }
    assert fhir_paths <= operations | searched | {"/fhir/ServiceRequest"}


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["database"]["ok"] is True


def test_unknown_route_is_an_operation_outcome(client: TestClient) -> None:
    response = client.get("/fhir/nothing/here/at/all", headers={})
    assert response.status_code in (401, 404)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_method_the_path_does_not_take_is_405_naming_every_method_it_does(
    client: TestClient,
) -> None:
    response = client.delete("/fhir/Task/0661d32a5943a80009af8599d93da5")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH, PUT"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-supported"


def test_qr_png_decodes_to_the_epu(client: TestClient, tokens: Tokens) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))

    response = client.get(f"/epu/{epu_id.grouped(epu)}/qr.png", headers=tokens.prescriber())

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    found = decode(Image.open(io.BytesIO(response.content)))
    assert [symbol.data.decode() for symbol in found] == [f"EPU:{epu}"]


def test_qr_svg_is_served(client: TestClient, tokens: Tokens) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))

    response = client.get(f"/epu/{epu}/qr.svg", headers=tokens.prescriber())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in response.content


def test_qr_of_someone_elses_prescription_is_not_found(client: TestClient, tokens: Tokens) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))
    response = client.get(f"/epu/{epu}/qr.png", headers=tokens.prescriber("10109876543"))
    assert response.status_code == 404


def test_cli_prints_a_token_the_gateway_accepts(client: TestClient, settings: Settings) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "--role", "lab", "--lab", "750000001"],
        capture_output=True,
        text=True,
        env={"EPU_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout.strip()

    response = client.get(
        f"/fhir/ServiceRequest?requisition={epu_id.generate()}",
        headers={"Authorization": f"Bearer {printed}"},
    )
    assert response.status_code == 404  # the token was accepted; the code is unknown


def test_cli_refuses_a_prescriber_token_without_rpps(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "--role", "prescriber"],
        capture_output=True,
        text=True,
        env={"EPU_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "rpps" in result.stderr
