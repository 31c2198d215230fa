"""The growth benchmarks' seed makes a base that looks like one in service: rows in the order
their prescriptions were created, statuses that follow age, and prescriptions the gateway serves
as it serves its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.domain.epu_id import EPU_SYSTEM
from app.main import create_app
from app.security.local_issuer import issue_token
from scripts.bench.load import PULL_QUERY
from scripts.seed import seed
from tests.conftest import LAB, POSTGRES, POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES, reason="the seed writes PostgreSQL's COPY format")
COUNT = 5_000
OPEN = ("requested", "accepted", "in-progress")


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[str, list[tuple[str, str, datetime, int]]]]:
    """A seeded schema's URL and its prescriptions (epu, status, created_at, lines) in the
    order of their rows on disk."""
    schema = f"seed_{datetime.now(UTC):%H%M%S%f}"
    plain = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        assert seed(url, COUNT, batch=1_000, max_seconds=600) == COUNT
        with psycopg.connect(plain, options=f"-csearch_path={schema}") as connection:
            rows = connection.execute(
                "SELECT p.epu, p.status, p.created_at, count(r.id) FROM prescriptions p "
                "JOIN resources r ON r.epu = p.epu AND r.resource_type = 'ServiceRequest' "
                "GROUP BY p.ctid, p.epu ORDER BY p.ctid"
            ).fetchall()
        yield url, rows
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def _open_share(rows: list[tuple[str, str, datetime, int]]) -> float:
    return sum(status in OPEN for _, status, _, _ in rows) / len(rows)


def test_the_seed_writes_prescriptions_in_the_order_they_were_created(seeded) -> None:  # type: ignore[no-untyped-def]
    _, rows = seeded
    created = [created_at for _, _, created_at, _ in rows]

    assert len(rows) == COUNT
    assert created == sorted(created)
    assert datetime.now(UTC) - created[-1] < timedelta(days=1)
    assert datetime.now(UTC) - created[0] > timedelta(days=500)


def test_a_seeded_status_follows_the_prescriptions_age(seeded) -> None:  # type: ignore[no-untyped-def]
    _, rows = seeded
    now = datetime.now(UTC)
    young = [r for r in rows if now - r[2] < timedelta(days=14)]
    old = [r for r in rows if now - r[2] > timedelta(days=90)]

    assert _open_share(young) > 0.3
    assert _open_share(old) < 0.15
    assert not [r for r in old if r[1] in ("accepted", "in-progress")]


def test_the_gateway_serves_and_claims_a_seeded_prescription(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, rows = seeded
    epu, _, _, lines = next(r for r in reversed(rows) if r[1] == "requested")
    settings = Settings(data_dir=tmp_path, database_url=url, public_base_url="http://testserver")
    lab = {"Authorization": f"Bearer {issue_token(settings, 'lab', lab=LAB)}"}

    with TestClient(create_app(settings)) as client:
        pulled = client.get(
            f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epu}{PULL_QUERY}", headers=lab
        )
        claimed = client.post("/fhir/Task/$claim", headers=lab, json={
            "resourceType": "Parameters", "parameter": [{"name": "epu", "valueString": epu}]})  # fmt: skip

    assert pulled.status_code == 200, pulled.text
    matches = [e for e in pulled.json()["entry"] if e["search"]["mode"] == "match"]
    assert len(matches) == lines
    assert claimed.status_code == 200, claimed.text
