"""Changes run through app.store.changes: on the event loop over asyncpg connections on
PostgreSQL, in the thread pool on SQLite; either way a change commits whole or not at all, a
duplicate key is DuplicateKey whichever driver met it, and on PostgreSQL a connection the server
dropped is DatabaseUnavailable (503), once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from sqlalchemy import Engine

from app.config import Settings
from app.store.changes import Changes, Database, changes_for
from app.store.database import create_database_engine, transaction
from app.store.lost_connections import DatabaseUnavailable
from app.store.migrate import migrate
from app.store.sql import DuplicateKey, Insert, Statement, driver_connection

FAILED = Insert("failed_lookups", ("client", "at"))
COUNT = Statement("SELECT count(*) FROM failed_lookups WHERE client = :client")
IDEMPOTENCY = Insert(
    "idempotency_records", ("key", "content_hash", "epu", "response", "created_at")
)


T = TypeVar("T")


class Stop(Exception):
    pass


def _count_failures(database: Database, client: str, then_fail: bool) -> int:
    with transaction(database) as session:
        connection = driver_connection(session)
        FAILED.rows(connection, [{"client": client, "at": datetime.now(UTC)}] * 2)
        seen = int(COUNT.rows(connection, client=client)[0][0])
        if then_fail:
            raise Stop
        return seen


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = create_database_engine(settings)
    migrate(engine)
    return engine


def test_a_change_commits_whole_or_not_at_all(engine: Engine) -> None:
    async def scenario() -> int:
        changes = changes_for(engine)
        await changes.open()
        try:
            seen = await changes.run(_count_failures, "kept", then_fail=False)
            with pytest.raises(Stop):
                await changes.run(_count_failures, "dropped", then_fail=True)
            return seen
        finally:
            await changes.close()

    seen = asyncio.run(scenario())
    assert seen == 2  # the change sees its own rows
    with engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        assert COUNT.rows(dbapi, client="kept")[0][0] == 2
        assert COUNT.rows(dbapi, client="dropped")[0][0] == 0


def test_on_postgresql_a_change_takes_no_thread(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no async driver: its changes go to the thread pool")

    def where(_database: Database) -> int:
        return threading.get_ident()

    async def scenario() -> tuple[int, int]:
        changes = changes_for(engine)
        await changes.open()
        try:
            return threading.get_ident(), await changes.run(where)
        finally:
            await changes.close()

    loop_thread, change_thread = asyncio.run(scenario())
    assert change_thread == loop_thread


def _remember_twice(database: Database, key: str) -> None:
    row = {"key": key, "content_hash": "h", "epu": "E", "response": b"{}",
           "created_at": datetime.now(UTC)}  # fmt: skip
    with transaction(database) as session:
        IDEMPOTENCY.rows(driver_connection(session), [row])
        IDEMPOTENCY.rows(driver_connection(session), [row])


def _in_a_change(engine: Engine, scenario: Callable[[Changes], Awaitable[T]]) -> T:
    async def run() -> T:
        changes = changes_for(engine)
        await changes.open()
        try:
            return await scenario(changes)
        finally:
            await changes.close()

    return asyncio.run(run())


def test_a_duplicate_key_is_told_apart_from_other_failures(engine: Engine) -> None:
    """What a create that lost a race to the same request relies on (app.workflow.create)."""

    async def scenario(changes: Changes) -> None:
        with pytest.raises(DuplicateKey):
            await changes.run(_remember_twice, "racing")

    _in_a_change(engine, scenario)
    with engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        found = Statement("SELECT count(*) FROM idempotency_records WHERE key = :key")
        assert found.rows(dbapi, key="racing")[0][0] == 0


def _end_own_connection(database: Database) -> None:
    with transaction(database) as session:
        Statement("SELECT pg_terminate_backend(pg_backend_pid())").rows(driver_connection(session))


def _divide_by_zero(database: Database) -> None:
    with transaction(database) as session:
        Statement("SELECT 1 / 0").rows(driver_connection(session))


def test_a_dropped_connection_is_unavailable_once_and_other_failures_are_not(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to drop")

    async def scenario(changes: Changes) -> int:
        with pytest.raises(DatabaseUnavailable):
            await changes.run(_end_own_connection)
        with pytest.raises(Exception) as failed:  # a bug of ours: 500, not 503
            await changes.run(_divide_by_zero)
        assert not isinstance(failed.value, DatabaseUnavailable)
        return await changes.run(_count_failures, "after", then_fail=False)

    assert _in_a_change(engine, scenario) == 2


def _application_name(database: Database) -> str:
    with transaction(database) as session:
        return str(
            Statement("SELECT current_setting('application_name')").rows(
                driver_connection(session)
            )[0][0]
        )


def test_changes_take_the_gateways_libpq_url_whole(settings: Settings) -> None:
    """EPU_DATABASE_URL is one libpq URL for psycopg and asyncpg alike: its options (the test's
    schema), application_name and connect_timeout, which asyncpg takes as an argument."""
    if not settings.database_url:
        pytest.skip("PostgreSQL's URL")
    url = f"{settings.database_url}&connect_timeout=5&application_name=epu-test-url"
    engine = create_database_engine(settings.model_copy(update={"database_url": url}))
    migrate(engine)

    async def scenario(changes: Changes) -> tuple[str, int]:
        name = await changes.run(_application_name)
        return name, await changes.run(_count_failures, "through-the-url", then_fail=False)

    assert _in_a_change(engine, scenario) == ("epu-test-url", 2)
