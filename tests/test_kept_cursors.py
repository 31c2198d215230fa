"""A raw cursor per async connection, kept for the connection's life (app.store.sql)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from app.store import sql
from app.store.sql import PositionalStatement, kept_cursor
from tests.conftest import POSTGRES, POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer")
PLAIN_URL = POSTGRES_URL.replace("+psycopg", "")


def test_statements_on_one_connection_share_its_cursor_and_a_closed_ones_is_dropped() -> None:
    async def scenario() -> None:
        first = await psycopg.AsyncConnection.connect(PLAIN_URL, autocommit=True)
        statement = PositionalStatement("SELECT $1::int + 1")
        assert await statement.rows_async(first, [1]) == [(2,)]
        cursor = kept_cursor(first)
        assert await statement.rows_async(first, [41]) == [(42,)]
        assert kept_cursor(first) is cursor
        await first.close()

        second = await psycopg.AsyncConnection.connect(PLAIN_URL, autocommit=True)
        try:
            assert await statement.rows_async(second, [2]) == [(3,)]
            assert kept_cursor(second) is not cursor
            assert first not in sql._kept_cursors
        finally:
            await second.close()

    asyncio.run(scenario())


def test_a_failed_statement_leaves_the_cursor_usable() -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(PLAIN_URL, autocommit=True) as connection:
            with pytest.raises(psycopg.errors.DivisionByZero):
                await PositionalStatement("SELECT 1 / $1::int").rows_async(connection, [0])
            assert await PositionalStatement("SELECT $1::int").rows_async(connection, [7]) == [(7,)]

    asyncio.run(scenario())
