"""The migrations make the schema the models describe: nothing a model declares (an index the
purge relies on, say) is missing from a database the gateway migrated."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlmodel import SQLModel

import app.store.tables  # noqa: F401  (the models register their tables)
from app.config import Settings
from app.store.database import create_database_engine
from app.store.migrate import alembic_config, migrate


def missing_from_models(connection: Connection) -> list[Any]:
    """What the models declare and the migrated database lacks."""
    differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return [d for d in differences if d[0] in ("add_table", "add_index", "add_column")]


def test_a_migrated_database_has_every_table_and_index_of_the_models(settings: Settings) -> None:
    engine = create_database_engine(settings)
    migrate(engine)
    with engine.connect() as connection:
        missing = missing_from_models(connection)
    engine.dispose()
    assert missing == []


def test_instances_starting_together_take_turns_and_both_start(settings: Settings) -> None:
    """Both migrate the same fresh database at once: one builds the schema (indexes built
    CONCURRENTLY among it), the other waits its turn, finds it done, and neither fails."""
    if not settings.database_url:
        pytest.skip("on SQLite, processes: the test below")
    engines = [create_database_engine(settings) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [pool.submit(migrate, engine) for engine in engines]
        for outcome in outcomes:
            outcome.result(timeout=120)
    with engines[0].connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        missing = missing_from_models(connection)
    for engine in engines:
        engine.dispose()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert missing == []


def _migrate_when_all_are_ready(data_dir: Path, ready: Any, failures: Any) -> None:
    engine = create_database_engine(Settings(data_dir=data_dir))
    ready.wait()
    try:
        migrate(engine)
    except Exception as failure:  # noqa: BLE001  (reported to the test, which fails on it)
        failures.put(repr(failure))
    finally:
        engine.dispose()


def test_processes_starting_together_on_a_fresh_sqlite_file_all_start(tmp_path: Path) -> None:
    """The workers of `epu serve --workers N` on a fresh data directory: each migrates the same
    new file at once. Without turns, about one start in three failed on "database is locked"."""
    fork = multiprocessing.get_context("fork")
    failures = fork.Queue()
    for round_ in range(6):
        data_dir = tmp_path / f"data{round_}"
        ready = fork.Barrier(4)
        processes = [
            fork.Process(target=_migrate_when_all_are_ready, args=(data_dir, ready, failures))
            for _ in range(4)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [process.exitcode for process in processes] == [0, 0, 0, 0]
        assert failures.empty(), failures.get()
        engine = create_database_engine(Settings(data_dir=data_dir))
        with engine.connect() as connection:
            assert missing_from_models(connection) == []
        engine.dispose()
