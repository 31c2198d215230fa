"""When PostgreSQL drops the gateway's connections (a restart, a failover), the gateway answers
503 with Retry-After while its pools reconnect, never 500, and a pull, which changes nothing,
does not fail at all."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.config import Settings
from app.domain.epu_id import EPU_SYSTEM
from app.main import create_app
from app.store.async_reads import PostgresReader
from app.store.sql import Statement
from tests.conftest import POSTGRES_URL, Tokens, issue_codes
from tests.scenarios.workflow_steps import new_prescription, operation

ATTEMPTS = 25
"""More than the connections a test gateway opens: each may fail one request, no more."""


def _drop_connections(application_name: str) -> int:
    with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def _until_answered(send: Any) -> list[Any]:
    """The answers to `send()` until one is not 503."""
    answers = [send()]
    while answers[-1].status_code == 503 and len(answers) < ATTEMPTS:
        answers.append(send())
    return answers


def test_dropped_connections_give_503_with_retry_after_then_the_gateway_serves_again(
    settings: Settings, tokens: Tokens
) -> None:
    if not settings.database_url:
        pytest.skip("SQLite has no connections to drop")
    name = f"epu-test-{uuid.uuid4().hex[:12]}"
    named = settings.model_copy(
        update={"database_url": f"{settings.database_url}&application_name={name}"}
    )
    with TestClient(create_app(named), raise_server_exceptions=False) as client:
        epu = new_prescription(client, tokens)
        listed = client.get("/fhir/Task?status=requested", headers=tokens.prescriber())
        assert listed.status_code == 200
        pull_url = f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epu}"

        assert _drop_connections(name) > 0

        pulled = client.get(pull_url, headers=tokens.lab())
        lists = _until_answered(
            lambda: client.get("/fhir/Task?status=requested", headers=tokens.prescriber())
        )
        claims = _until_answered(lambda: operation(client, "claim", tokens.lab(), epu))

    assert pulled.status_code == 200
    for answers in (lists, claims):
        assert answers[-1].status_code == 200, answers[-1].text
        for refused in answers[:-1]:
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "2"
            assert issue_codes(refused) == ["DATABASE_UNAVAILABLE"]
            assert refused.json()["issue"][0]["code"] == "transient"
    with TestClient(create_app(settings), raise_server_exceptions=False) as second:
        seen = second.get(f"/fhir/Task?group-identifier={EPU_SYSTEM}|{epu}", headers=tokens.lab())
    group = next(t for t in (e["resource"] for e in seen.json()["entry"]) if "focus" not in t)
    assert group["status"] == "accepted"


def test_a_read_the_server_cancelled_is_not_run_again(settings: Settings) -> None:
    """A cancelled statement (57014, as a statement_timeout raises) is the server's answer, not a
    lost connection: the reader passes it on instead of running the read a second time."""
    if not settings.database_url:
        pytest.skip("PostgreSQL's reader")
    plain = settings.database_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as admin:  # in the test's schema, dropped after it
        admin.execute("CREATE SEQUENCE attempts")
    # nextval is not rolled back with the statement: the sequence counts the attempts.
    cancelled = Statement(
        "SELECT nextval('attempts'), pg_cancel_backend(pg_backend_pid()), pg_sleep(5)"
    )

    async def read() -> None:
        reader = PostgresReader(create_engine(settings.database_url))
        await reader.open()
        try:
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await reader.rows(cancelled)
        finally:
            await reader.close()

    asyncio.run(read())
    with psycopg.connect(plain) as admin:
        attempts = admin.execute("SELECT last_value FROM attempts").fetchone()
    assert attempts == (1,)
