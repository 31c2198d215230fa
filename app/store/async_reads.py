"""Reads for the async hot path (the pull and its anti-guessing check), without a thread hop.

On PostgreSQL they run on a pool of async psycopg connections in autocommit; measured here, each
hop to the thread pool cost more CPU than the query it carried. SQLite has no async driver here,
so there the same statements go through the thread pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

import psycopg
from fastapi.concurrency import run_in_threadpool
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine

from app.store.database import for_reading, transaction
from app.store.lost_connections import connection_lost
from app.store.sql import PositionalStatement, Statement, driver_connection

POOL_SIZE = 10
T = TypeVar("T")


class Reader(Protocol):
    async def rows(self, statement: Statement, **parameters: Any) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class PostgresReader:
    def __init__(self, engine: Engine) -> None:
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=2,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            open=False,
        )

    async def open(self) -> None:
        await self._pool.open()

    async def rows(self, statement: Statement, **parameters: Any) -> list[tuple[Any, ...]]:
        try:
            return await self._rows(statement, parameters)
        except psycopg.OperationalError as failed:
            # Connections the server dropped (a restart, a failover) would each fail one pull:
            # the pool sorts out its dead ones, and the read, which changes nothing, runs again.
            if not connection_lost(failed):
                raise
            await self._pool.check()
            return await self._rows(statement, parameters)

    async def execute(self, statement: PositionalStatement, values: list[Any]) -> None:
        """One write, committed on its own (the pool is in autocommit)."""
        await self._on_a_connection(partial(statement.execute_async, values=values))

    async def _rows(
        self, statement: Statement, parameters: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        return await self._on_a_connection(partial(statement.rows_async, **parameters))

    async def _on_a_connection(self, run: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        # getconn and putconn, not the pool's `connection()`: in autocommit its context managers
        # (the pool's, then the connection's COMMIT of nothing) cost 40,000 instructions a use
        # on top of them, and putconn still sorts out a connection left broken or busy.
        connection = await self._pool.getconn()
        try:
            return await run(connection)
        finally:
            await self._pool.putconn(connection)

    async def close(self) -> None:
        await self._pool.close()


class ThreadedReader:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def rows(self, statement: Statement, **parameters: Any) -> list[tuple[Any, ...]]:
        return await run_in_threadpool(self._rows, statement, parameters)

    def _rows(self, statement: Statement, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        with transaction(for_reading(self._engine)) as session:
            return statement.rows(driver_connection(session), **parameters)

    async def close(self) -> None:
        return None


async def open_reader(engine: Engine) -> Reader:
    if engine.dialect.name == "postgresql":
        reader = PostgresReader(engine)
        await reader.open()
        return reader
    return ThreadedReader(engine)
