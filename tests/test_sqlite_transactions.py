"""SQLite: work that only reads waits for no writer, and a writer's turn on the database file
passes on however its transaction ends (commit, rollback, an error, several on one connection)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.config import Settings
from app.store.database import create_database_engine, for_reading, orm_session, transaction
from app.store.migrate import migrate
from app.store.sql import Statement, driver_connection

WAIT = 20
"""Seconds a step may take before the test calls it blocked (SQLite itself would wait 30)."""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_database_engine(Settings(data_dir=tmp_path))
    migrate(engine)
    return engine


def _count(engine: Engine) -> int:
    with orm_session(for_reading(engine)) as session:
        return int(session.execute(text("SELECT count(*) FROM failed_lookups")).scalar_one())


def _write(engine: Engine, client: str) -> None:
    with orm_session(engine) as session:
        session.execute(
            text("INSERT INTO failed_lookups (client, at) VALUES (:c, '2026-01-01 00:00:00')"),
            {"c": client},
        )


def test_a_read_is_answered_while_a_write_is_open(engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=1) as other, orm_session(engine) as writing:
        writing.execute(
            text("INSERT INTO failed_lookups (client, at) VALUES ('w', '2026-01-01 00:00:00')")
        )
        seen_meanwhile = other.submit(_count, engine).result(timeout=WAIT)
    assert seen_meanwhile == 0  # the open write is not visible
    assert _count(engine) == 1


def test_the_writers_turn_passes_on_after_an_error_and_a_rollback(engine: Engine) -> None:
    with pytest.raises(RuntimeError), orm_session(engine) as failing:
        failing.execute(
            text("INSERT INTO failed_lookups (client, at) VALUES ('x', '2026-01-01 00:00:00')")
        )
        raise RuntimeError("the operation failed")
    with ThreadPoolExecutor(max_workers=1) as other:
        other.submit(_write, engine, "after-error").result(timeout=WAIT)
        with engine.connect() as connection:  # several transactions on one connection
            for client in ("first", "second"):
                with connection.begin():
                    connection.execute(
                        text("INSERT INTO failed_lookups (client, at) VALUES (:c, '2026-01-01')"),
                        {"c": client},
                    )
            connection.begin()
            connection.rollback()
        other.submit(_write, engine, "last").result(timeout=WAIT)
    assert _count(engine) == 4


def test_concurrent_writers_all_commit(engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=8) as writers:
        for done in [writers.submit(_write, engine, f"c{n}") for n in range(64)]:
            done.result(timeout=WAIT)
    assert _count(engine) == 64


def test_a_workflow_transaction_takes_the_writers_turn_and_passes_it_on(engine: Engine) -> None:
    """The transactions workflow operations run in (app.store.database.transaction: statements
    on the driver, no ORM) take the same turn as sessions."""
    insert = Statement("INSERT INTO failed_lookups (client, at) VALUES (:c, '2026-01-01')")
    with ThreadPoolExecutor(max_workers=1) as other:
        with pytest.raises(RuntimeError), transaction(engine) as failing:
            insert.execute(driver_connection(failing), c="dropped")
            assert other.submit(_count, engine).result(timeout=WAIT) == 0
            raise RuntimeError("the operation failed")
        other.submit(_write, engine, "after-error").result(timeout=WAIT)
        with transaction(engine) as kept:
            insert.execute(driver_connection(kept), c="kept")
    assert _count(engine) == 2
