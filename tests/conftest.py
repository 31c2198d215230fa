"""Shared fixtures: a gateway per test on SQLite, and on PostgreSQL when one answers."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.security.local_issuer import issue_token

EXAMPLES = Path(__file__).resolve().parents[1] / "fhir_profiles" / "examples"
POSTGRES_URL = os.environ.get(
    "EPU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PRESCRIBER_RPPS = "10101201234"
OTHER_RPPS = "10109876543"
LAB = "750000001"
OTHER_LAB = "690000002"


def _postgres_answers() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


POSTGRES = _postgres_answers()
if os.environ.get("EPU_REQUIRE_POSTGRES") and not POSTGRES:
    raise RuntimeError(f"EPU_REQUIRE_POSTGRES is set but {POSTGRES_URL} does not answer")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer"),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None for the embedded SQLite; for PostgreSQL, a fresh schema dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_base_url="http://testserver",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def prescriber(self, rpps: str = PRESCRIBER_RPPS) -> dict[str, str]:
        return self._header(issue_token(self.settings, "prescriber", rpps=rpps))

    def lab(self, lab: str = LAB, rpps: str | None = None) -> dict[str, str]:
        return self._header(issue_token(self.settings, "lab", rpps=rpps, lab=lab))

    def admin(self) -> dict[str, str]:
        return self._header(issue_token(self.settings, "admin", subject="ops"))

    @staticmethod
    def _header(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    return Tokens(settings)


def example(name: str) -> dict[str, Any]:
    """A fresh copy of an example Bundle from fhir_profiles/examples, with a new identifier."""
    bundle: dict[str, Any] = json.loads((EXAMPLES / f"Bundle-{name}.json").read_text())
    bundle = copy.deepcopy(bundle)
    bundle["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    return bundle


FHIR_JSON = {"Content-Type": "application/fhir+json"}


def create(client: TestClient, tokens: Tokens, bundle: dict[str, Any], **headers: str) -> Any:
    return client.post(
        "/fhir", json=bundle, headers={**tokens.prescriber(), **FHIR_JSON, **headers}
    )


def created_epu(response: Any) -> str:
    assert response.status_code in (200, 201), response.text
    return str(response.json()["identifier"]["value"])


def issue_codes(response: Any) -> list[str]:
    """Our machine codes (details.coding) in an OperationOutcome answer."""
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return [
        coding["code"]
        for issue in outcome["issue"]
        for coding in issue.get("details", {}).get("coding", [])
    ]
