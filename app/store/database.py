"""Engine and sessions for SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from app.config import Settings
from app.store.changes import Database, LoopDatabase
from app.store.pending import write_pending
from app.store.sql import Transaction


def create_database_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", functools.partial(_begin_sqlite, _writer_turn(engine)))
        for end in ("commit", "rollback"):
            event.listen(engine, end, _end_sqlite)
        # A connection back in the pool, or dropped, with its transaction still open.
        event.listen(engine.pool, "reset", lambda _c, record, _state: _release_turn(record.info))
        event.listen(engine.pool, "invalidate", lambda _c, record, _e: _release_turn(record.info))
        event.listen(engine.pool, "close", lambda _c, record: _release_turn(record.info))
        return engine
    # No pre-ping: it cost a round trip per request. A connection PostgreSQL dropped fails the one
    # request using it (503, app.api.errors), and SQLAlchemy then invalidates the pool.
    return create_engine(url, pool_size=10, max_overflow=5, pool_recycle=1800)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let pysqlite hand transaction control to us, so that "begin" below really opens one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_READS_ONLY = "epu_reads_only"
_WRITER_TURN = "epu.writer_turn"
_writer_turns: dict[str, threading.Lock] = {}
_writer_turns_lock = threading.Lock()


def _writer_turn(engine: Engine) -> threading.Lock:
    """The process's lock on an SQLite file, shared by every engine on that file."""
    with _writer_turns_lock:
        return _writer_turns.setdefault(str(engine.url.database), threading.Lock())


def _begin_sqlite(turn: threading.Lock, connection: Any) -> None:
    """Work that only reads opens a deferred transaction: in WAL mode it waits for no writer.
    Writers take this process's turn on the database file, then BEGIN IMMEDIATE (so that none
    fails upgrading its lock mid-transaction). Queued on SQLite's lock alone, they slept in its
    busy handler's back-off (up to 100 ms a time) and at 16 concurrent writes some waited a
    second; on a lock of the process each goes as soon as the one before it ends (released as
    its COMMIT starts: the next may wait a millisecond in SQLite for it to finish). Another
    process writing the same file is still waited for by SQLite."""
    if connection.get_execution_options().get(_READS_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    turn.acquire()
    connection.info[_WRITER_TURN] = turn
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_turn(connection.info)
        raise


def _end_sqlite(connection: Any) -> None:
    _release_turn(connection.info)


def _release_turn(info: dict[str, Any]) -> None:
    turn = info.pop(_WRITER_TURN, None)
    if turn is not None:
        turn.release()


@contextmanager
def transaction(database: Database) -> Iterator[Transaction]:
    """A transaction for hand-written statements (app.store.sql) whose work commits together at
    the end, what is pending first (app.store.pending), or not at all. Every workflow operation
    runs in one; code that queries through the ORM or SQLAlchemy Core takes an `orm_session`."""
    with _begun(database) as connection:
        unit = Transaction(connection)
        yield unit
        write_pending(unit)


@contextmanager
def _begun(database: Database) -> Iterator[Any]:
    """The driver connection, in a transaction committed at the end or rolled back."""
    if isinstance(database, LoopDatabase):
        with database.begin() as connection:
            yield connection
        return
    with database.connect() as connection, connection.begin():
        yield connection.connection.dbapi_connection


@contextmanager
def orm_session(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together at the end (what is pending first: its
    before_commit event), or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def for_reading(engine: Engine) -> Engine:
    """The same pool for work that only reads: on PostgreSQL no BEGIN and COMMIT round trips
    around its statements (each still sees a consistent snapshot of its own); on SQLite a
    deferred transaction, which waits for no writer."""
    with _for_reading_lock:
        found = _for_reading.get(engine)
        if found is None:
            options = (
                {_READS_ONLY: True}
                if engine.dialect.name == "sqlite"
                else {"isolation_level": "AUTOCOMMIT"}
            )
            found = _for_reading[engine] = engine.execution_options(**options)
        return found


_for_reading: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_for_reading_lock = threading.Lock()


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
