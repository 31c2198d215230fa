"""Where rate-limit counters live: the database (the default) or Redis (EPU_REDIS_URL), both
shared by every instance; and a per-instance memory counter for the request budget without Redis."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine, delete, insert
from sqlmodel import col

from app.config import Settings
from app.security.rate_limit import FailureLog, LookupLimiter, RequestBudget, WindowCounter
from app.store.async_reads import Reader
from app.store.database import transaction
from app.store.sql import Statement, as_datetime
from app.store.tables import FailedLookup


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DatabaseFailureLog:
    """Failures as rows of `failed_lookups`: counted on the (client, at) index, pruned on `at`."""

    in_database = True

    def __init__(self, engine: Engine, reader: Reader) -> None:
        self._engine = engine
        self._reader = reader

    def add(self, keys: Sequence[str], at: float, forget_before: float) -> None:
        with transaction(self._engine) as session:
            stale = col(FailedLookup.at) <= _instant(forget_before)
            session.execute(delete(FailedLookup).where(stale))
            rows = [{"client": key, "at": _instant(at)} for key in keys]
            session.execute(insert(FailedLookup), rows)

    async def newest(self, keys: Sequence[str], since: float, count: int) -> dict[str, list[float]]:
        if not 1 <= len(keys) <= 2:
            raise ValueError("a client has a subject key and, when known, an address key")
        # Every guarded look-up asks, so one hand-written statement (app.store.sql) for all keys.
        # A client is refused once it reaches the limit, so few rows are ever in its window.
        found: dict[str, list[float]] = {}
        rows = await self._reader.rows(
            _NEWEST_FAILURES, first=keys[0], second=keys[-1], since=_instant(since)
        )
        for client, moment in rows:
            times = found.setdefault(client, [])
            if len(times) < count:
                times.append(as_datetime(moment).timestamp())
        return found


_NEWEST_FAILURES = Statement(
    "SELECT client, at FROM failed_lookups WHERE client IN (:first, :second) AND at > :since "
    "ORDER BY at DESC"
)


class RedisFailureLog:
    """Failures as members of a sorted set per client, scored by time, expiring with the window."""

    in_database = False

    def __init__(self, client: redis.Redis, async_client: AsyncRedis, prefix: str) -> None:
        self._redis = client
        self._async_redis = async_client
        self._prefix = prefix

    def add(self, keys: Sequence[str], at: float, forget_before: float) -> None:
        pipeline = self._redis.pipeline()
        for key in keys:
            name = f"{self._prefix}fail:{key}"
            pipeline.zadd(name, {uuid.uuid4().hex: at})
            pipeline.zremrangebyscore(name, "-inf", forget_before)
            pipeline.expire(name, max(1, int(at - forget_before) + 1))
        pipeline.execute()

    async def newest(self, keys: Sequence[str], since: float, count: int) -> dict[str, list[float]]:
        pipeline = self._async_redis.pipeline(transaction=False)
        for key in keys:
            pipeline.zrevrangebyscore(
                f"{self._prefix}fail:{key}",
                "+inf",
                f"({since}",
                start=0,
                num=count,
                withscores=True,
            )
        found: list[list[tuple[bytes, float]]] = await pipeline.execute()
        return {
            key: [float(score) for _member, score in rows]
            for key, rows in zip(keys, found, strict=True)
        }


class RedisWindowCounter:
    blocking = True

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def increment(self, key: str, window: int, ttl_seconds: int) -> int:
        name = f"{self._prefix}budget:{key}:{window}"
        pipeline = self._redis.pipeline()
        pipeline.incr(name)
        pipeline.expire(name, ttl_seconds)
        count, _ = pipeline.execute()
        return int(count)


class MemoryWindowCounter:
    """Per-instance counts: a request budget is a brake on runaway clients, not worth a database
    write per request, so without Redis each instance keeps its own."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def increment(self, key: str, window: int, ttl_seconds: int) -> int:
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


def limiters(
    settings: Settings, engine: Engine, reader: Reader
) -> tuple[LookupLimiter, RequestBudget]:
    """The look-up limiter and the request budget, on Redis when configured, else the database."""
    failures: FailureLog
    counter: WindowCounter
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        async_client = AsyncRedis.from_url(settings.redis_url, socket_timeout=2)
        failures = RedisFailureLog(client, async_client, settings.redis_key_prefix)
        counter = RedisWindowCounter(client, settings.redis_key_prefix)
    else:
        failures = DatabaseFailureLog(engine, reader)
        counter = MemoryWindowCounter()
    lookup = LookupLimiter(
        failures, settings.failed_lookup_limit, settings.failed_lookup_window_seconds
    )
    return lookup, RequestBudget(counter, settings.token_request_budget_per_minute)
