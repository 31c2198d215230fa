"""Hand-written SQL for the statements every pull, guarded look-up, audited read and change runs,
executed on the driver's own cursor.

SQLAlchemy builds, caches and wraps a statement on every call: measured here, a Core select cost
about 0.3 ms of CPU against 0.05 ms for the same round trip through the driver, on a pull that
runs several. `Statement`s are written once, in SQL that SQLite and PostgreSQL both accept, with
`:name` parameters; `Insert` writes a batch of rows in one statement on either database, and
`PositionalStatement` is a PostgreSQL statement with native `$n` parameters (the batches, and
what a `Statement` becomes there). Everything else goes through SQLAlchemy."""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psycopg
from sqlalchemy import event
from sqlalchemy.util import await_only
from sqlmodel import Session

_NAMED = re.compile(r"(?<!:):(\w+)")
# How SQLAlchemy stores a DateTime in SQLite (naive UTC text); comparisons are on that text.
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


class Statement:
    """One statement, with `:name` parameters; `postgresql_lock` is a locking clause added on
    PostgreSQL (FOR UPDATE...).

    On PostgreSQL it goes out with native `$n` parameters on the raw cursor: psycopg's default
    cursor would turn `%(name)s` into them again on every call (measured: 4% of a done's CPU)."""

    def __init__(self, sql: str, postgresql_lock: str = "") -> None:
        self.sqlite = sql
        numbers: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

        lock = f" {postgresql_lock}" if postgresql_lock else ""
        self._postgresql = PositionalStatement(_NAMED.sub(number, sql) + lock)
        self._names = tuple(numbers)

    def rows(self, connection: Any, **parameters: Any) -> list[tuple[Any, ...]]:
        """All rows, on a driver connection (see `driver_connection`)."""
        if not is_sqlite(connection):
            return self._postgresql.rows(connection, self._values(parameters))
        cursor = connection.execute(self.sqlite, _for_sqlite(parameters))
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def execute(self, connection: Any, **parameters: Any) -> int:
        """Run a write; the number of rows it touched."""
        if not is_sqlite(connection):
            return self._postgresql.execute(connection, self._values(parameters))
        cursor = connection.execute(self.sqlite, _for_sqlite(parameters))
        touched = int(cursor.rowcount)
        cursor.close()
        return touched

    async def rows_async(self, connection: Any, **parameters: Any) -> list[tuple[Any, ...]]:
        """All rows, on an asyncpg connection outside a change (app.store.async_reads)."""
        return await self._postgresql.rows_async(connection, self._values(parameters))

    def _values(self, parameters: dict[str, Any]) -> list[Any]:
        return [parameters[name] for name in self._names]


class DuplicateKey(Exception):
    """An INSERT met a row with the same key (the driver's IntegrityError, whichever driver)."""


class Insert:
    """A batch INSERT of rows into one table, in one round trip: on PostgreSQL one multi-row
    VALUES statement (measured here, a third of executemany's client CPU at 6 rows, and a quarter
    of the arrays an `unnest` would take), on SQLite the driver's executemany, a loop in C."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.head = f"INSERT INTO {table} ({', '.join(self.columns)}) VALUES "
        self._sqlite = self.head + "(" + ", ".join("?" * len(self.columns)) + ")"

    def rows(self, connection: Any, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            if is_sqlite(connection):
                cursor = connection.cursor()
                try:
                    converted = [_for_sqlite(row) for row in rows]
                    cursor.executemany(
                        self._sqlite,
                        [tuple(row[name] for name in self.columns) for row in converted],
                    )
                finally:
                    cursor.close()
            else:
                values = [row[name] for row in rows for name in self.columns]
                statement = values_list(self.head, len(self.columns), len(rows))
                PositionalStatement(statement).execute(connection, values)
        except _INTEGRITY_ERRORS as duplicate:
            raise DuplicateKey(str(duplicate)) from None


_INTEGRITY_ERRORS = (
    sqlite3.IntegrityError,
    psycopg.IntegrityError,
    asyncpg.IntegrityConstraintViolationError,  # a change on the loop (app.store.changes)
)


@functools.lru_cache(maxsize=256)
def values_list(
    head: str, width: int, count: int, casts: Sequence[str] = (), first: int = 1
) -> str:
    """`head` followed by `count` rows of `width` PostgreSQL placeholders ($1, $2... or from
    $`first`), the columns cast as `casts` says if given."""
    cast = [f"::{kind}" for kind in casts] or [""] * width
    rows = (
        "("
        + ", ".join(f"${first + row * width + column}{cast[column]}" for column in range(width))
        + ")"
        for row in range(count)
    )
    return head + ", ".join(rows)


class PositionalStatement:
    """A PostgreSQL statement with native `$n` parameters, built for one shape of batch.

    In a change on the loop it runs on asyncpg (app.store.changes), which takes `$n` as they
    are, prepares each statement once per connection and reads rows in binary. Elsewhere it runs
    on psycopg's RawCursor, which sends it as it is: the default cursor parses every statement's
    text for `%s` placeholders, and stops caching that past 50 parameters, where batches start
    (measured: 7% of a create's CPU). There rows are asked for in binary: in text, PostgreSQL
    sends a body (bytea) as hex, twice its size, and libpq unescapes it (measured with
    callgrind: 11% of a pull's instructions)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def execute(self, connection: Any, values: Sequence[Any]) -> int:
        """Run a write; the number of rows it touched."""
        if isinstance(connection, asyncpg.Connection):  # a change on the loop (app.store.changes)
            status = await_only(connection.execute(self.sql, *values))
            return int(status.rsplit(" ", 1)[-1])
        with psycopg.RawCursor(connection) as cursor:
            cursor.execute(self.sql, values)
            return int(cursor.rowcount)

    def rows(self, connection: Any, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        if isinstance(connection, asyncpg.Connection):
            records = await_only(connection.fetch(self.sql, *values))
            return [tuple(record) for record in records]
        with psycopg.RawCursor(connection) as cursor:
            cursor.execute(self.sql, values, binary=True)
            return list(cursor.fetchall())

    async def execute_async(self, connection: asyncpg.Connection, values: Sequence[Any]) -> int:
        status = await connection.execute(self.sql, *values)
        return int(status.rsplit(" ", 1)[-1])

    async def rows_async(
        self, connection: asyncpg.Connection, values: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        return [tuple(record) for record in await connection.fetch(self.sql, *values)]


class Transaction:
    """One operation's transaction on one connection, for code that runs this module's
    statements only: `info` keeps what the operation holds until it commits (app.store.pending,
    app.store.prescriptions), as a Session's does, without the ORM's unit of work around it.
    Made by app.store.database.transaction. Measured with callgrind, a Session's begin, commit and
    close cost about 300,000 instructions an operation, 13% of a done."""

    __slots__ = ("connection", "info")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        """The driver's connection (see `driver_connection`)."""
        self.info: dict[str, Any] = {}


Unit = Session | Transaction
"""What the hand-written statements run in: a Transaction, or a Session where the same
operation also uses the ORM."""


def driver_connection(session: Unit) -> Any:
    """The driver connection under a session or transaction, in its transaction (a Session's
    pending ORM changes flushed): sqlite3's, psycopg's, or asyncpg's in a change on the loop.

    Looked up once per session: through the session it cost 5% of a done's CPU, asked for at
    each statement."""
    if isinstance(session, Transaction):
        return session.connection
    if session.new or session.dirty or session.deleted:
        session.flush()
    found = session.info.get(_DRIVER_CONNECTION)
    if found is None:
        found = session.info[_DRIVER_CONNECTION] = session.connection().connection.dbapi_connection
    return found


_DRIVER_CONNECTION = "epu.driver_connection"


@event.listens_for(Session, "after_transaction_end")
def _forget_driver_connection(session: Session, _transaction: Any) -> None:
    session.info.pop(_DRIVER_CONNECTION, None)


def as_datetime(value: datetime | str) -> datetime:
    """A DateTime column read through `Statement`: SQLite hands back its stored text."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_sqlite(connection: Any) -> bool:
    return type(connection).__module__.startswith("sqlite3")


def _for_sqlite(parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.astimezone(UTC).strftime(_SQLITE_DATETIME)
        if isinstance(value, datetime)
        else value
        for name, value in parameters.items()
    }
