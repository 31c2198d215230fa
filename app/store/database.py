"""Engine and sessions for SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from app.config import Settings


def create_database_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    # No pre-ping: it cost a round trip per request. A connection PostgreSQL dropped fails the one
    # request using it, and SQLAlchemy then invalidates the pool.
    return create_engine(url, pool_size=10, max_overflow=5, pool_recycle=1800)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let pysqlite hand transaction control to us, so that "begin" below really opens one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Writers queue on SQLite's lock at BEGIN instead of failing on upgrade mid-transaction.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def autocommit(engine: Engine) -> Engine:
    """The same pool for work that only reads: on PostgreSQL no BEGIN and COMMIT round trips
    around its statements (each still sees a consistent snapshot of its own). SQLite keeps its
    transactions."""
    if engine.dialect.name == "sqlite":
        return engine
    with _autocommit_lock:
        found = _autocommit.get(engine)
        if found is None:
            found = _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
        return found


_autocommit: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_autocommit_lock = threading.Lock()


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
