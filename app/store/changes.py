"""Where changes run: a workflow that writes (`work(engine, ...)`, synchronous code on hand-written
statements) run for an async route.

On PostgreSQL it runs on the event loop itself, in a greenlet, over asyncpg connections:
SQLAlchemy's asyncio engine hands the workflow a synchronous engine whose every round trip is
awaited on the loop (`greenlet_spawn`). Measured on a done at 16 concurrent requests, the thread
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
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import asyncpg
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from app.store.lost_connections import DatabaseUnavailable, connection_lost

P = ParamSpec("P")
T = TypeVar("T")

POOL_SIZE = 20
MAX_OVERFLOW = 0
"""20 connections per process, all kept: with 5 kept and 15 overflowing, at 16 concurrent dones
the overflow was closed at each return and opened again at the next checkout, and PostgreSQL
spent more CPU forking backends than running the statements. With the sync engine's 15 and the
reader's 10, a process holds at most 45 of PostgreSQL's connections (100 by default, 3 of them
kept for superusers: two workers)."""


class Changes(Protocol):
    async def open(self) -> None: ...

    async def run(
        self, work: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def close(self) -> None: ...


class LoopChanges:
    """PostgreSQL: changes in a greenlet on the event loop, over the asyncio engine."""

    def __init__(self, engine: Engine) -> None:
        self._async_engine: AsyncEngine = create_async_engine(
            "postgresql+asyncpg://",
            async_creator=asyncpg_connect(engine.url),
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            pool_recycle=1800,
        )
        self._engine = self._async_engine.sync_engine  # usable only inside `run`

    async def open(self) -> None:
        """One connection made and used before the first request: a URL asyncpg cannot use
        stops the gateway at start, not every change after."""
        async with self._async_engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def run(
        self, work: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            result: T = await greenlet_spawn(functools.partial(work, self._engine, *args, **kwargs))
        except Exception as failed:
            if not connection_lost(failed):
                raise
            # The server dropped its connections: the pooled ones are gone too. A new pool
            # rather than one failed request for each of them.
            await self._async_engine.dispose()
            raise DatabaseUnavailable(type(failed).__name__) from failed
        return result

    async def close(self) -> None:
        await self._async_engine.dispose()


def asyncpg_connect(url: URL) -> Callable[[], Awaitable[asyncpg.Connection]]:
    """asyncpg's connect for the gateway's libpq URL (`EPU_DATABASE_URL`). asyncpg reads the
    same URL (host, sslmode, application_name, options...) except connect_timeout, which it takes
    as an argument: in the URL it would go to the server as a setting and be refused. (SQLAlchemy's
    asyncpg dialect would pass every query parameter as a keyword argument.)"""
    timeout = url.query.get("connect_timeout")
    plain = url.set(drivername="postgresql").difference_update_query(["connect_timeout"])
    dsn = plain.render_as_string(hide_password=False)
    if isinstance(timeout, str):
        return functools.partial(asyncpg.connect, dsn, timeout=float(timeout))
    return functools.partial(asyncpg.connect, dsn)


class ThreadedChanges:
    """SQLite: changes in the thread pool, on the ordinary engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def open(self) -> None:
        return None

    async def run(
        self, work: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await run_in_threadpool(work, self._engine, *args, **kwargs)

    async def close(self) -> None:
        return None


def changes_for(engine: Engine) -> Changes:
    if engine.dialect.name == "postgresql":
        return LoopChanges(engine)
    return ThreadedChanges(engine)
