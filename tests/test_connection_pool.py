"""The pool the changes on the loop take their asyncpg connection from: never more than its size,
waiters served in turn, and a connection the server ended, one left in a transaction or one
in use as connections were lost never handed out again."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import pytest

from app.store.connection_pool import ConnectionPool
from app.store.lost_connections import DatabaseUnavailable
from tests.conftest import POSTGRES, POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer")

DSN = POSTGRES_URL.replace("+psycopg", "")
T = TypeVar("T")


def _with_pool(size: int, scenario: Callable[[ConnectionPool], Awaitable[T]]) -> T:
    async def run() -> T:
        pool = ConnectionPool(functools.partial(asyncpg.connect, DSN), size)
        try:
            return await scenario(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


async def _backend(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def _served_yet(task: asyncio.Task[asyncpg.Connection]) -> bool:
    for _ in range(3):  # a handed connection reaches its waiter within a few loop turns
        await asyncio.sleep(0)
    return task.done()


async def _until_closed(connection: asyncpg.Connection) -> None:
    """Until the loop has seen the server close the connection, bounded by a deadline."""
    async with asyncio.timeout(10):
        while not connection.is_closed():
            await asyncio.sleep(0.01)


def test_at_most_size_connections_and_waiters_are_served_in_turn() -> None:
    async def scenario(pool: ConnectionPool) -> None:
        first, second = await pool.acquire(), await pool.acquire()
        earlier = asyncio.create_task(pool.acquire())
        later = asyncio.create_task(pool.acquire())
        assert not await _served_yet(earlier)
        assert pool.size == 2

        pool.release(second)
        assert await _served_yet(earlier)
        assert not later.done()
        assert earlier.result() is second

        pool.release(first)
        assert (await later) is first
        assert pool.size == 2
        pool.release(earlier.result())
        pool.release(later.result())

    _with_pool(2, scenario)


def test_a_connection_the_server_ended_is_replaced() -> None:
    async def scenario(pool: ConnectionPool) -> None:
        connection = await pool.acquire()
        ended = await _backend(connection)
        other = await asyncpg.connect(DSN)
        await other.execute("SELECT pg_terminate_backend($1)", ended)
        await other.close()
        await _until_closed(connection)
        pool.release(connection)

        fresh = await pool.acquire()
        assert await _backend(fresh) != ended
        assert pool.size == 1
        pool.release(fresh)

    _with_pool(1, scenario)


def test_an_idle_connection_the_server_ended_is_not_handed_out() -> None:
    async def scenario(pool: ConnectionPool) -> None:
        connection = await pool.acquire()
        ended = await _backend(connection)
        pool.release(connection)
        other = await asyncpg.connect(DSN)
        await other.execute("SELECT pg_terminate_backend($1)", ended)
        await other.close()
        await _until_closed(connection)

        fresh = await pool.acquire()
        assert await _backend(fresh) != ended
        assert pool.size == 1
        pool.release(fresh)

    _with_pool(1, scenario)


def test_a_connection_left_in_a_transaction_is_not_handed_out_again() -> None:
    async def scenario(pool: ConnectionPool) -> None:
        connection = await pool.acquire()
        left = await _backend(connection)
        await connection.execute("BEGIN")  # a change's task cancelled before its COMMIT
        pool.release(connection)

        fresh = await pool.acquire()
        assert await _backend(fresh) != left
        assert not fresh.is_in_transaction()
        pool.release(fresh)

    _with_pool(1, scenario)


@pytest.mark.parametrize("handed_first", [False, True], ids=["waiting", "just-handed"])
def test_a_cancelled_waiter_takes_nothing(handed_first: bool) -> None:
    """Cancelled while it waits, or once handed the connection but before it has run."""

    async def scenario(pool: ConnectionPool) -> None:
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        assert not await _served_yet(waiter)
        if handed_first:
            pool.release(held)
            waiter.cancel()
        else:
            waiter.cancel()
            pool.release(held)
        with pytest.raises(asyncio.CancelledError):
            await waiter

        again = await asyncio.wait_for(pool.acquire(), timeout=5)
        assert again is held
        pool.release(again)

    _with_pool(1, scenario)


def test_after_connections_were_lost_none_of_the_old_ones_is_handed_out() -> None:
    async def scenario(pool: ConnectionPool) -> None:
        idle, in_use = await pool.acquire(), await pool.acquire()
        old = {await _backend(idle), await _backend(in_use)}
        pool.release(idle)

        pool.expire()
        assert idle.is_closed()
        pool.release(in_use)  # came back after the loss
        assert in_use.is_closed()

        fresh = [await pool.acquire(), await pool.acquire()]
        assert {await _backend(connection) for connection in fresh}.isdisjoint(old)
        for connection in fresh:
            pool.release(connection)

    _with_pool(2, scenario)


def test_a_failed_connect_gives_its_place_to_the_next() -> None:
    attempts: list[str] = []

    async def connect() -> asyncpg.Connection:
        attempts.append("try")
        if len(attempts) == 1:  # the server not answering yet
            return await asyncpg.connect("postgresql://postgres@127.0.0.1:1/test", timeout=2)
        return await asyncpg.connect(DSN)

    async def scenario() -> None:
        pool = ConnectionPool(connect, 1)
        try:
            with pytest.raises(OSError):
                await pool.acquire()
            connection = await asyncio.wait_for(pool.acquire(), timeout=10)
            assert pool.size == 1
            pool.release(connection)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_request_that_finds_no_connection_free_in_time_is_told_the_database_is_unavailable() -> (
    None
):
    async def scenario() -> None:
        pool = ConnectionPool(functools.partial(asyncpg.connect, DSN), 1, wait_seconds=0.2)
        try:
            held = await pool.acquire()
            with pytest.raises(DatabaseUnavailable):  # 503 with Retry-After
                await pool.acquire()
            pool.release(held)
            assert (await asyncio.wait_for(pool.acquire(), timeout=5)) is held
            pool.release(held)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_closed_pool_closes_its_connections_and_hands_out_none() -> None:
    async def scenario() -> asyncpg.Connection:
        pool = ConnectionPool(functools.partial(asyncpg.connect, DSN), 1)
        connection = await pool.acquire()
        pool.release(connection)
        await pool.close()
        with pytest.raises(asyncpg.InterfaceError):
            await pool.acquire()
        return connection

    assert asyncio.run(scenario()).is_closed()
