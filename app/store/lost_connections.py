"""Telling a lost connection from the server's answer, for whichever driver raised it: the
async reader (psycopg) runs its read again, a change (asyncpg) answers 503."""

from __future__ import annotations

import asyncpg
import psycopg
import sqlalchemy.exc


class DatabaseUnavailable(Exception):
    """A change or an async read could not get a connection to PostgreSQL (none free in time) or
    lost it: 503, as app.api.errors answers the drivers' OperationalError."""


class ConnectionLost(DatabaseUnavailable):
    """The connection went (a restart, a failover): a read, which changes nothing, may run again
    on a new one."""


def connection_lost(failed: BaseException) -> bool:
    """Whether `failed`, or what it was raised from, says the connection went or never came: the
    socket failed, the server closed it or is shutting down (SQLSTATE class 08, 57P01-03), or
    psycopg lost it without an SQLSTATE. Not the server refusing or cancelling a statement
    (57014, a statement_timeout), which a second try would only repeat."""
    seen: BaseException | None = failed
    while seen is not None:
        if isinstance(seen, OSError | asyncpg.PostgresConnectionError):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "closed" in str(seen):
            return True  # asyncpg's "connection is closed": its socket went while idle
        if isinstance(seen, asyncpg.InternalClientError):
            return True  # the server's goodbye read while idle, its socket not yet closed
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, psycopg.OperationalError) and seen.sqlstate is None:
            return True
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _SHUTTING_DOWN):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_SHUTTING_DOWN = {"57P01", "57P02", "57P03"}
