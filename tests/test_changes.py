"""Changes run through app.store.changes: on the event loop over async connections on PostgreSQL,
in the thread pool on SQLite; either way a change commits whole or not at all."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from app.config import Settings
from app.store.changes import changes_for
from app.store.database import create_database_engine, transaction
from app.store.migrate import migrate
from app.store.sql import Insert, Statement, driver_connection

FAILED = Insert("failed_lookups", ("client", "at"))
COUNT = Statement("SELECT count(*) FROM failed_lookups WHERE client = :client")


class Stop(Exception):
    pass


def _count_failures(engine: Engine, client: str, then_fail: bool) -> int:
    with transaction(engine) as session:
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

    def where(_engine: Engine) -> int:
        return threading.get_ident()

    async def scenario() -> tuple[int, int]:
        changes = changes_for(engine)
        try:
            return threading.get_ident(), await changes.run(where)
        finally:
            await changes.close()

    loop_thread, change_thread = asyncio.run(scenario())
    assert change_thread == loop_thread
