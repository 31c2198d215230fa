"""Brings the schema to the newest Alembic revision; several processes starting at once take
turns: on PostgreSQL an advisory lock, on SQLite a lock file beside the database.

The advisory lock is asked for again and again rather than waited on: an instance waiting inside
`pg_advisory_lock` holds a snapshot, and an index built CONCURRENTLY by the instance holding the
lock waits for every older snapshot to end (a deadlock).

On SQLite the turn is taken before the first connection: its `PRAGMA journal_mode=WAL` on a file
another process is still creating fails at once with "database is locked", without waiting (one
start in three of `epu serve --workers 2` on a fresh data directory, measured)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x45505547  # "EPUG"
_LOCK_POLL_SECONDS = 0.2


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    config = alembic_config()
    with _sqlite_turn(engine), engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            _take_turn(connection)
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                connection.commit()


def _take_turn(connection: Connection) -> None:
    while True:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY})
        if taken.scalar():
            connection.commit()
            return
        connection.commit()
        time.sleep(_LOCK_POLL_SECONDS)


@contextmanager
def _sqlite_turn(engine: Engine) -> Iterator[None]:
    """Holds an exclusive lock on `<database>.migrating` while an SQLite file is migrated; on
    another database (or an SQLite in memory, one process's alone) takes nothing."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    # A file of its own: closing a descriptor of the database file itself would drop the locks
    # SQLite holds on it in this process.
    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
