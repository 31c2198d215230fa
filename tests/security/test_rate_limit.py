"""Anti-guessing: a client that fails too many EPU look-ups is held off for the window, whether it
comes back under the same token or from the same address, on the database or on Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from redis.asyncio import Redis as AsyncRedis

from app.config import Settings
from app.domain import epu_id
from app.domain.errors import GatewayError
from app.main import create_app
from app.security.rate_limit import Client, LookupLimiter
from app.security.rate_stores import DatabaseFailureLog, RedisFailureLog, RedisHealth
from app.store.async_reads import open_reader
from app.store.database import create_database_engine
from app.store.migrate import migrate
from tests.conftest import OTHER_LAB, Tokens, create, created_epu, example, issue_codes
from tests.gateway_process import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 20


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


REDIS = _redis_answers()


@pytest.fixture(
    params=[
        "database",
        pytest.param("redis", marks=pytest.mark.skipif(not REDIS, reason="Redis does not answer")),
        "redis-down",
    ]
)
def limited(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The gateway's settings with counters in the database, in Redis under a fresh prefix, or
    configured for a Redis that does not answer (a free port: nothing listens on it)."""
    if request.param == "database":
        yield settings
        return
    if request.param == "redis-down":
        yield settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
        return
    prefix = f"epu-test-{uuid.uuid4().hex}:"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "redis_key_prefix": prefix})
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)


def gateway(settings: Settings, address: str) -> TestClient:
    return TestClient(create_app(settings), raise_server_exceptions=False, client=(address, 40000))


def pull(client: TestClient, headers: dict[str, str], code: str):  # type: ignore[no-untyped-def]
    requisition = f"{epu_id.EPU_SYSTEM}|{code}"
    return client.get("/fhir/ServiceRequest", params={"requisition": requisition}, headers=headers)


def guesses() -> Iterator[str]:
    """Failed look-ups of each kind: malformed, wrong check character, well-formed but unknown."""
    while True:
        yield "01-NOT-AN-EPU"
        unknown = epu_id.generate()
        yield unknown[:-1] + ("0" if unknown[-1] != "0" else "1")
        yield epu_id.generate()


def fail(client: TestClient, headers: dict[str, str], times: int) -> None:
    codes = guesses()
    for _ in range(times):
        response = pull(client, headers, next(codes))
        assert response.status_code in (400, 404), response.text


def test_after_twenty_failed_lookups_even_a_valid_epu_gets_429_with_retry_after(
    limited: Settings, tokens: Tokens
) -> None:
    with gateway(limited, "192.0.2.10") as client:
        epu = created_epu(create(client, tokens, example("prescription-prolactine")))
        lab = tokens.lab()
        assert pull(client, lab, epu).status_code == 200

        fail(client, lab, LIMIT)
        refused = pull(client, lab, epu)

        assert refused.status_code == 429
        assert issue_codes(refused) == ["RATE_LIMITED"]
        assert 0 < int(refused.headers["Retry-After"]) <= limited.failed_lookup_window_seconds
        same_address = client.get(f"/epu/{epu}/qr.png", headers=tokens.prescriber())
        assert same_address.status_code == 429


def test_one_failure_short_of_the_limit_the_pull_still_answers(
    limited: Settings, tokens: Tokens
) -> None:
    with gateway(limited, "192.0.2.11") as client:
        epu = created_epu(create(client, tokens, example("prescription-prolactine")))
        lab = tokens.lab()
        fail(client, lab, LIMIT - 1)

        assert pull(client, lab, epu).status_code == 200
        fail(client, lab, 1)
        assert pull(client, lab, epu).status_code == 429


def test_past_the_limit_the_pull_answers_429_whatever_code_it_is_sent(
    limited: Settings, tokens: Tokens
) -> None:
    with gateway(limited, "192.0.2.12") as client:
        lab = tokens.lab()
        fail(client, lab, LIMIT)

        for code in ("01-NOT-AN-EPU", epu_id.generate()):
            refused = pull(client, lab, code)
            assert refused.status_code == 429, refused.text
            assert issue_codes(refused) == ["RATE_LIMITED"]
            assert "Retry-After" in refused.headers


def test_the_limit_follows_the_token_subject_to_another_address(
    limited: Settings, tokens: Tokens
) -> None:
    with gateway(limited, "192.0.2.20") as first, gateway(limited, "192.0.2.21") as second:
        epu = created_epu(create(first, tokens, example("prescription-prolactine")))
        fail(first, tokens.lab(), LIMIT)

        assert pull(second, tokens.lab(), epu).status_code == 429
        assert pull(second, tokens.lab(OTHER_LAB), epu).status_code == 200


def test_the_limit_follows_the_address_to_another_token(limited: Settings, tokens: Tokens) -> None:
    with gateway(limited, "192.0.2.30") as shared, gateway(limited, "192.0.2.31") as elsewhere:
        epu = created_epu(create(elsewhere, tokens, example("prescription-prolactine")))
        fail(shared, tokens.lab(), LIMIT)

        assert pull(shared, tokens.lab(OTHER_LAB), epu).status_code == 429
        assert pull(elsewhere, tokens.lab(OTHER_LAB), epu).status_code == 200


def test_guessing_qr_codes_counts_too(limited: Settings, tokens: Tokens) -> None:
    with gateway(limited, "192.0.2.40") as client:
        epu = created_epu(create(client, tokens, example("prescription-prolactine")))
        codes = guesses()
        for _ in range(LIMIT):
            guess = client.get(f"/epu/{next(codes)}/qr.svg", headers=tokens.prescriber())
            assert guess.status_code in (400, 404)

        refused = client.get(f"/epu/{epu}/qr.svg", headers=tokens.prescriber())

        assert refused.status_code == 429
        assert "Retry-After" in refused.headers


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_the_client_gets_back_in_when_its_oldest_failure_leaves_the_window(
    backend: str, settings: Settings
) -> None:
    if backend == "redis" and not REDIS:
        pytest.skip("Redis does not answer")
    engine = create_database_engine(settings)
    migrate(engine)

    async def scenario() -> None:
        reader = await open_reader(engine)
        prefix = f"epu-test-{uuid.uuid4().hex}:"
        failures = (
            DatabaseFailureLog(engine, reader)
            if backend == "database"
            else RedisFailureLog(
                redis.Redis.from_url(REDIS_URL), AsyncRedis.from_url(REDIS_URL), prefix
            )
        )
        clock = Clock()
        limiter = LookupLimiter(failures, limit=3, window_seconds=600, clock=clock)
        client = Client("lab:750000001", "192.0.2.50")
        for _ in range(3):
            limiter.count_failure(client)
            clock.now += 100

        with pytest.raises(GatewayError) as refused:
            await limiter.guard(client)
        assert refused.value.headers.get("Retry-After") == "300"

        clock.now += 300
        await limiter.guard(client)
        await reader.close()

    asyncio.run(scenario())
    engine.dispose()


def test_a_runaway_client_exhausts_its_request_budget(limited: Settings, tokens: Tokens) -> None:
    budgeted = limited.model_copy(update={"token_request_budget_per_minute": 5})
    with gateway(budgeted, "192.0.2.60") as client:
        answers = [client.get("/fhir/Task/x", headers=tokens.lab()).status_code for _ in range(6)]
        other = client.get("/fhir/Task/x", headers=tokens.lab(OTHER_LAB))

    assert answers[:5] == [404] * 5
    assert answers[5] == 429
    assert other.status_code == 404


def test_guessing_by_claim_and_scan_shares_the_pull_counter(
    limited: Settings, tokens: Tokens
) -> None:
    with gateway(limited, "192.0.2.41") as client:
        epu = created_epu(create(client, tokens, example("prescription-prolactine")))
        codes = guesses()
        for index in range(LIMIT):
            code = next(codes)
            if index % 2:
                answer = client.post("/fhir/$scan", content=code.encode(),
                                     headers={**tokens.lab(), "Content-Type": "text/plain"})  # fmt: skip
            else:
                parameters = {
                    "resourceType": "Parameters",
                    "parameter": [{"name": "epu", "valueString": code}],
                }
                answer = client.post("/fhir/Task/$claim", json=parameters,
                                     headers={**tokens.lab(), "Content-Type": "application/fhir+json"})  # fmt: skip
            assert answer.status_code in (400, 404), answer.text

        refused = pull(client, tokens.lab(), epu)

        assert refused.status_code == 429
        assert issue_codes(refused) == ["RATE_LIMITED"]


def test_a_redis_that_failed_is_left_alone_for_a_pause_then_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = RedisHealth(pause=5, clock=clock)
    problem = redis.ConnectionError("Connection refused")

    with caplog.at_level(logging.INFO, logger="epu.rate_limit"):
        assert health.worth_trying()
        health.failed(problem)
        clock.now += 4.9
        assert not health.worth_trying()
        clock.now += 0.2
        assert health.worth_trying()
        health.failed(problem)  # still down: no second warning
        clock.now += 5
        health.answered()

    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "ConnectionError" in caplog.records[0].getMessage()
