"""Two gateway processes on one PostgreSQL: the lock and the version check hold across them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import psycopg
import pytest

from app.config import Settings
from app.domain.epu_id import EPU_SYSTEM
from app.security.local_issuer import issue_token
from tests.conftest import LAB, OTHER_LAB, POSTGRES, POSTGRES_URL, PRESCRIBER_RPPS, example
from tests.gateway_process import gateway_process
from tests.scenarios.workflow_steps import parameters

pytestmark = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer")
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture(params=["two uvicorn processes", "epu serve --workers 2"])
def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[str], Settings]]:
    """Two gateway processes, one PostgreSQL schema, one data directory (the token key): two
    `uvicorn` processes, or the two workers of one `epu serve --workers 2`, whose supervisor
    hands each new connection to the next worker (two requests sent together, each on its own
    connection, reach both)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    database_url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    issue_token(settings, "admin")  # the issuer key exists before either process reads it
    env = {"EPU_DATA_DIR": str(settings.data_dir), "EPU_DATABASE_URL": database_url}
    try:
        with ExitStack() as running:
            if request.param == "epu serve --workers 2":
                url = running.enter_context(
                    gateway_process(env, tmp_path / "gateway.log", workers=2)
                )
                urls = [url, url]
            else:
                urls = [
                    running.enter_context(gateway_process(env, tmp_path / f"gateway-{n}.log"))
                    for n in (1, 2)
                ]
            yield urls, settings
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def _bearer(settings: Settings, role: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, role, **claims)}"}


def _together(*calls: Any) -> list[httpx.Response]:
    """Fire the calls at the same moment, one per thread."""
    start = Barrier(len(calls))

    def fire(call: Any) -> httpx.Response:
        start.wait()
        return call()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(fire, calls))


def test_claims_and_updates_race_across_two_processes(
    gateways: tuple[list[str], Settings],
) -> None:
    (first, second), settings = gateways
    prescriber = _bearer(settings, "prescriber", rpps=PRESCRIBER_RPPS)
    lab, other_lab = _bearer(settings, "lab", lab=LAB), _bearer(settings, "lab", lab=OTHER_LAB)
    created = httpx.post(f"{first}/fhir", json=example("prescription-prolactine"),
                         headers={**prescriber, **FHIR})  # fmt: skip
    assert created.status_code == 201, created.text
    epu = created.json()["identifier"]["value"]

    claims = _together(
        lambda: httpx.post(f"{first}/fhir/Task/$claim", json=parameters(epu), headers={**lab, **FHIR}),
        lambda: httpx.post(f"{second}/fhir/Task/$claim", json=parameters(epu), headers={**other_lab, **FHIR}),
    )  # fmt: skip

    assert sorted(response.status_code for response in claims) == [200, 409]
    winner = lab if claims[0].status_code == 200 else other_lab
    found = httpx.get(f"{second}/fhir/Task?group-identifier={EPU_SYSTEM}|{epu}", headers=winner)
    line = next(e["resource"] for e in found.json()["entry"] if "focus" in e["resource"])
    headers = {**winner, **FHIR, "If-Match": f'W/"{line["meta"]["versionId"]}"'}
    body = {**line, "status": "in-progress"}

    updates = _together(
        lambda: httpx.put(f"{first}/fhir/Task/{line['id']}", json=body, headers=headers),
        lambda: httpx.put(f"{second}/fhir/Task/{line['id']}", json=body, headers=headers),
    )

    assert sorted(response.status_code for response in updates) == [200, 412]
