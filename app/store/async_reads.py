"""Reads for the async hot path (the pull and its anti-guessing check), without a thread hop.

On PostgreSQL they run on the gateway's pool of asyncpg connections (app.store.connection_pool),
outside any transaction; measured here, each hop to the thread pool cost more CPU than the query
it carried. SQLite has no async driver here, so there the same statements go through the thread
pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

import asyncpg
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.store.connection_pool import ConnectionPool, asyncpg_connect
from app.store.database import for_reading, transaction
from app.store.lost_connections import ConnectionLost, connection_lost
from app.store.sql import PositionalStatement, Statement, driver_connection

POOL_SIZE = 10
T = TypeVar("T")


class Reader(Protocol):
    async def rows(self, statement: Statement, **parameters: Any) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class PostgresReader:
    def __init__(self, engine: Engine) -> None:
        self._pool = ConnectionPool(asyncpg_connect(engine.url), POOL_SIZE)

    async def open(self) -> None:
        """One connection made before the first request: a URL that cannot be used stops the
        gateway at start."""
        await self._on_a_connection(lambda connection: connection.execute("SELECT 1"))

    async def rows(self, statement: Statement, **parameters: Any) -> list[tuple[Any, ...]]:
        try:
            return await self._on_a_connection(partial(statement.rows_async, **parameters))
        except ConnectionLost:
            # Connections the server dropped (a restart, a failover) would each fail one pull:
            # the pool let them go, and the read, which changes nothing, runs again, once.
            return await self._on_a_connection(partial(statement.rows_async, **parameters))

    async def execute(self, statement: PositionalStatement, values: list[Any]) -> None:
        """One write, committed on its own (outside any transaction)."""
        await self._on_a_connection(partial(statement.execute_async, values=values))

    async def _on_a_connection(self, run: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`run` on a connection of the pool; a lost connection is ConnectionLost (503), and
        the pool lets go of the others of its time."""
        try:
            connection = await self._pool.acquire()
            try:
                return await run(connection)
            finally:
                self._pool.release(connection)
        except Exception as failed:
            if not connection_lost(failed):
                raise
            self._pool.expire()
            raise ConnectionLost(type(failed).__name__) from failed

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
