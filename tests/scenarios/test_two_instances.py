"""Two gateway processes behind one load balancer share one anti-guessing limit: failures spread
over both count together, in PostgreSQL or in Redis. Real uvicorn processes also show what only a
server shows: no Server header, and an oversized body refused from its Content-Length alone."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from app.config import Settings
from app.domain import epu_id
from app.security.local_issuer import issue_token
from tests.conftest import LAB, POSTGRES, POSTGRES_URL, PRESCRIBER_RPPS, example
from tests.gateway_process import gateway_process
from tests.security.test_rate_limit import REDIS, REDIS_URL, guesses

READY_WITHIN_SECONDS = 60
pytestmark = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer")


@dataclass
class Instance:
    url: str
    log: Path


@pytest.fixture(
    scope="module",
    params=[
        "postgres",
        pytest.param("redis", marks=pytest.mark.skipif(not REDIS, reason="Redis does not answer")),
    ],
)
def two_instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, list[Instance]]]:
    """Two instances on one fresh PostgreSQL schema (and one Redis prefix), shared by this
    module's tests: starting processes is the slow part."""
    tmp_path = tmp_path_factory.mktemp("instances")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    prefix = f"epu-test-{uuid.uuid4().hex}:"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
        redis_url=REDIS_URL if request.param == "redis" else None,
        redis_key_prefix=prefix,
    )
    issue_token(settings, "admin", subject="make-the-key-before-both-start")
    env = {
        "EPU_DATA_DIR": str(settings.data_dir),
        "EPU_DATABASE_URL": str(settings.database_url),
        "EPU_REDIS_KEY_PREFIX": prefix,
    }
    if settings.redis_url:
        env["EPU_REDIS_URL"] = settings.redis_url
    try:
        with ExitStack() as running:
            instances = [
                Instance(running.enter_context(gateway_process(env, log)), log)
                for log in (tmp_path / "instance-1.log", tmp_path / "instance-2.log")
            ]
            yield settings, instances
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
        if settings.redis_url:
            connection = redis.Redis.from_url(REDIS_URL)
            for key in connection.scan_iter(f"{prefix}*"):
                connection.delete(key)


def test_failures_spread_over_two_instances_hit_one_shared_limit(
    two_instances: tuple[Settings, list[Instance]],
) -> None:
    settings, (first, second) = two_instances
    prescriber_token = issue_token(settings, "prescriber", rpps=PRESCRIBER_RPPS)
    prescriber = {"Authorization": f"Bearer {prescriber_token}"}
    lab = {"Authorization": f"Bearer {issue_token(settings, 'lab', lab=LAB)}"}
    created = httpx.post(
        f"{first.url}/fhir",
        json=example("prescription-prolactine"),
        headers={**prescriber, "Content-Type": "application/fhir+json"},
    )
    assert created.status_code == 201, created.text
    epu = created.json()["identifier"]["value"]
    codes = guesses()

    def pull(instance: Instance, code: str) -> httpx.Response:
        requisition = f"{epu_id.EPU_SYSTEM}|{code}"
        return httpx.get(
            f"{instance.url}/fhir/ServiceRequest", params={"requisition": requisition}, headers=lab
        )

    for _ in range(settings.failed_lookup_limit // 2):
        assert pull(first, next(codes)).status_code in (400, 404)
        assert pull(second, next(codes)).status_code in (400, 404)

    for instance in (first, second):
        refused = pull(instance, epu)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert "server" not in refused.headers
    for instance in (first, second):
        logs = instance.log.read_text()
        assert epu not in logs and lab["Authorization"][7:] not in logs
        requests = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        assert {line["route"] for line in requests} >= {"/fhir/ServiceRequest", "/health"}


def test_a_declared_oversized_body_is_refused_before_it_is_sent(
    two_instances: tuple[Settings, list[Instance]],
) -> None:
    settings, (instance, _) = two_instances
    token = issue_token(settings, "prescriber", rpps=PRESCRIBER_RPPS)
    host, port = instance.url.removeprefix("http://").split(":")
    head = (
        "POST /fhir HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/fhir+json\r\n"
        "Content-Length: 500000000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())
        received = b""
        while b"PAYLOAD_TOO_LARGE" not in received and (chunk := connection.recv(65536)):
            received += chunk
    answer = received.decode(errors="replace")

    assert answer.startswith("HTTP/1.1 413"), answer
    assert "PAYLOAD_TOO_LARGE" in answer
