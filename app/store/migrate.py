"""Brings the schema to the newest Alembic revision; several instances starting at once on
PostgreSQL take turns on an advisory lock.

The lock is asked for again and again rather than waited on: an instance waiting inside
`pg_advisory_lock` holds a snapshot, and an index built CONCURRENTLY by the instance holding the
lock waits for every older snapshot to end (a deadlock)."""

from __future__ import annotations

import time
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
    with engine.connect() as connection:
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
