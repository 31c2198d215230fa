"""Where changes run: a workflow that writes (`work(database, ...)`, synchronous code on
hand-written statements) run for an async route.

On PostgreSQL it runs on the event loop itself, in a greenlet, on one asyncpg connection
(`LoopDatabase`) whose every round trip the workflow's code awaits on the loop through
`await_only`. Measured on a done at 16 concurrent requests, the thread
pool a sync route runs in cost about a third of the gateway's CPU per request, in the hop and in
the threads' contention for the GIL at each of a change's round trips; the workflow code stays
the same on both databases. SQLite has no async driver here, so there changes go to the thread
pool, on the ordinary engine.

asyncpg rather than async psycopg: a change is four round trips (BEGIN, the locked read, the
write, COMMIT), and asyncpg's protocol, written in Cython, costs half of psycopg's CPU for
each (measured on 2026-12-03 at 16 concurrent dones: the gateway's CPU per done 1.19 -> 1.03 ms,
PostgreSQL's 0.76 -> 0.69, done 989 -> 1,098/s). The reads keep psycopg (app.store.async_reads).

A change must not wait on anything but the database (no thread future's `result()`): on
PostgreSQL the event loop waits with it. Reads keep their own paths (app.store.async_reads, the
audit journal)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import asyncpg
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.util import await_only, greenlet_spawn

from app.store.connection_pool import ConnectionPool, asyncpg_connect
from app.store.lost_connections import ConnectionLost, connection_lost

P = ParamSpec("P")
T = TypeVar("T")

POOL_SIZE = 20
"""20 connections per process, all kept: with 5 kept and 15 opened and closed as needed, at 16 concurrent dones PostgreSQL spent more CPU forking
backends than running the statements. With the sync engine's 15 and the reader's 10, a process
holds at most 45 of PostgreSQL's connections (100 by default, 3 of them kept for superusers: two
workers)."""


class Changes(Protocol):
    async def open(self) -> None: ...

    async def run(
        self, work: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def close(self) -> None: ...


class LoopChanges:
    """PostgreSQL: changes in a greenlet on the event loop, each on one connection of the pool
    (app.store.connection_pool), as a `LoopDatabase`."""

    def __init__(self, engine: Engine) -> None:
        self._pool = ConnectionPool(asyncpg_connect(engine.url), POOL_SIZE)

    async def open(self) -> None:
        """One connection made and used before the first request: a URL asyncpg cannot use
        stops the gateway at start, not every change after."""
        connection = await self._pool.acquire()
        try:
            await connection.execute("SELECT 1")
        finally:
            self._pool.release(connection)

    async def run(
        self, work: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        connection = None
        try:
            connection = await self._pool.acquire()
            work_on = functools.partial(work, LoopDatabase(connection), *args, **kwargs)
            result: T = await greenlet_spawn(work_on)
        except Exception as failed:
            if not connection_lost(failed):
                raise
            # The server dropped its connections: the idle ones are gone too, and this one
            # (released below) with them. New ones rather than one failed request for each.
            self._pool.expire()
            raise ConnectionLost(type(failed).__name__) from failed
        finally:
            if connection is not None:
                self._pool.release(connection)
        return result

    async def close(self) -> None:
        await self._pool.close()


class LoopDatabase:
    """The database as a change on the loop sees it: one asyncpg connection, whose transactions
    (app.store.database.transaction) run one after the other, BEGIN and COMMIT sent as they are.

    SQLAlchemy's asyncio engine over the same asyncpg cost 80 µs more client CPU a transaction
    (its pool's checkout and checkin, its adapter's transaction): BEGIN, `SELECT 1`, COMMIT in
    one process, alternating, 5,000 transactions each, 260 µs against 185."""

    __slots__ = ("_connection", "_open")

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self._open = False

    @contextmanager
    def begin(self) -> Iterator[asyncpg.Connection]:
        """The connection in a transaction, committed at the end, or rolled back."""
        if self._open:
            raise RuntimeError("a change's transactions run one after the other, not nested")
        connection = self._connection
        await_only(connection.execute("BEGIN"))
        self._open = True
        try:
            yield connection
        except Exception:
            # For the change's next transaction (an audited refusal is written in one). A task
            # cancelled meanwhile leaves it open, and the pool drops the connection.
            if not connection.is_closed():
                await_only(connection.execute("ROLLBACK"))
            raise
        else:
            await_only(connection.execute("COMMIT"))
        finally:
            self._open = False


Database = Engine | LoopDatabase
"""What a workflow that writes runs on: the engine (in the thread pool, SQLite), or a change's
connection on the loop (PostgreSQL)."""


class ThreadedChanges:
    """SQLite: changes in the thread pool, on the ordinary engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def open(self) -> None:
        return None

    async def run(
        self, work: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await run_in_threadpool(work, self._engine, *args, **kwargs)

    async def close(self) -> None:
        return None


def changes_for(engine: Engine) -> Changes:
    if engine.dialect.name == "postgresql":
        return LoopChanges(engine)
    return ThreadedChanges(engine)
