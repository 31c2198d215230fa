"""The asyncpg connections the event loop's database work runs on: the changes
(app.store.changes) and the async reads (app.store.async_reads), a pool each. At most `size`
connections, kept while used, handed to whoever waited longest.

Ours rather than asyncpg's Pool: its release goes through `asyncio.shield`, a task of its own
every time, and with its acquire cost about 80 µs of client CPU a transaction, as much as the
transaction's BEGIN and COMMIT together (measured in one process, alternating, 5,000
transactions each: BEGIN, `SELECT 1`, COMMIT in 260 µs through asyncpg's Pool, in 185 µs through
this one). A connection comes back as it went out: the changes leave no session settings,
listeners or advisory locks behind."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import URL

from app.store.lost_connections import DatabaseUnavailable

RECYCLE_SECONDS = 1800.0
"""A connection older than this is closed when it comes back and another opened when needed: a
server-side session does not grow for ever, and a connection a proxy or firewall forgot is not
kept for days."""

WAIT_SECONDS = 30.0
"""How long a request waits for a connection when all are in use: then 503 with Retry-After
(app.api.errors), as a database that does not answer."""

_EXPIRED = float("-inf")
"""When a connection in use as the server dropped connections was opened, for the pool."""


class ConnectionPool:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        size: int,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self._connect = connect
        self._size = size
        self._wait_seconds = wait_seconds
        self._idle: list[asyncpg.Connection] = []
        self._opened_at: dict[asyncpg.Connection, float] = {}
        """Every connection open, in use or idle, and when it was opened (monotonic)."""
        self._opening = 0
        self._waiting: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return len(self._opened_at) + self._opening

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the connection pool is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._discard(connection)  # the server ended it while it waited here
        if self.size < self._size:
            self._opening += 1
            return await self._open()
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(self._wait_seconds):
                handed = await waiter
        except (asyncio.CancelledError, TimeoutError) as stopped:
            if waiter.done() and not waiter.cancelled():  # handed over as it was cancelled
                self._pass_on(waiter.result())
            if isinstance(stopped, TimeoutError):
                raise DatabaseUnavailable(
                    f"no connection free within {self._wait_seconds:g} s"
                ) from None
            raise
        # None: a connection was closed meanwhile, and its place is this waiter's to open.
        return handed if handed is not None else await self._open()

    def release(self, connection: asyncpg.Connection) -> None:
        """Back to the pool. One closed or left in a transaction (its task was cancelled midway)
        is dropped, one due for recycling closed; the longest waiter may open one in its place."""
        opened = self._opened_at[connection]
        if opened == _EXPIRED or connection.is_closed() or connection.is_in_transaction():
            self._discard(connection)
        elif self._closed or time.monotonic() - opened > RECYCLE_SECONDS:
            self._discard(connection, gracefully=True)
        else:
            self._give_back(connection)

    def expire(self) -> None:
        """The server dropped connections: drop the idle ones, and those in use when they come
        back (a lost connection fails the one change using it, not every change after)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            self._discard(connection)
        self._opened_at = dict.fromkeys(self._opened_at, _EXPIRED)

    async def close(self) -> None:
        """Closes the idle connections, and the others as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            del self._opened_at[connection]
        await asyncio.gather(*(_close(connection) for connection in idle), *self._closing)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the connection pool is closed"))

    async def _open(self) -> asyncpg.Connection:
        """A new connection, in a place counted in `_opening` already."""
        try:
            connection = await self._connect()
        except BaseException:
            self._opening -= 1
            self._hand_on(None)  # the next waiter tries in its turn
            raise
        self._opening -= 1
        self._opened_at[connection] = time.monotonic()
        return connection

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if not self._hand_on(connection):
            self._idle.append(connection)

    def _discard(self, connection: asyncpg.Connection, gracefully: bool = False) -> None:
        del self._opened_at[connection]
        if gracefully:
            closing = asyncio.get_running_loop().create_task(_close(connection))
            self._closing.add(closing)  # the loop holds tasks only weakly
            closing.add_done_callback(self._closing.discard)
        else:
            connection.terminate()
        self._hand_on(None)

    def _pass_on(self, connection: asyncpg.Connection | None) -> None:
        """What a waiter was handed and cannot use: the connection, or its place."""
        if connection is not None:
            self._give_back(connection)
        else:
            self._opening -= 1
            self._hand_on(None)

    def _hand_on(self, connection: asyncpg.Connection | None) -> bool:
        """To the longest waiter still waiting: a connection, or None, a place to open one in
        (counted in `_opening` from here, so that no newcomer takes it meanwhile)."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                if connection is None:
                    self._opening += 1
                waiter.set_result(connection)
                return True
        return False


async def _close(connection: asyncpg.Connection) -> None:
    """Says goodbye to the server; asyncpg drops the connection if that fails or takes 5 s."""
    with contextlib.suppress(Exception):
        await connection.close(timeout=5)


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
