"""Where rate-limit counters live: the database (the default) or Redis (EPU_REDIS_URL), both
shared by every instance; and a per-instance memory counter for the request budget without Redis.

When Redis does not answer, the counters are not worth an outage of the gateway: failed look-ups
are counted in the database and request budgets in each instance's memory until it answers again
(`RedisHealth`), so the brute-force limit on EPU codes holds throughout. Failures counted on one
side during the switch are not seen on the other: a client may get a few more guesses then."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, delete, insert
from sqlmodel import col

from app.config import Settings
from app.security.rate_limit import FailureLog, LookupLimiter, RequestBudget, WindowCounter
from app.store.async_reads import Reader
from app.store.database import orm_session
from app.store.sql import Statement, as_datetime
from app.store.tables import FailedLookup

T = TypeVar("T")
log = logging.getLogger("epu.rate_limit")
REDIS_TIMEOUT_SECONDS = 0.5
"""Redis answers on the local network in well under a millisecond: past this, it is down."""


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DatabaseFailureLog:
    """Failures as rows of `failed_lookups`: counted on the (client, at) index, pruned on `at`."""

    in_database = True

    def __init__(self, engine: Engine, reader: Reader) -> None:
        self._engine = engine
        self._reader = reader

    def add(self, keys: Sequence[str], at: float, forget_before: float) -> None:
        with orm_session(self._engine) as session:
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


class RedisHealth:
    """Whether to send Redis the next command. After a failure, not for `pause` seconds: each
    request would otherwise wait out a timeout first. One warning when it fails, one line when it
    answers again."""

    def __init__(self, pause: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._pause = pause
        self._clock = clock
        self._retry_at = 0.0
        self._down = False

    def call(self, on_redis: Callable[[], T], otherwise: Callable[[], T]) -> T:
        """`on_redis()` when Redis is worth trying and answers, else `otherwise()`."""
        if self.worth_trying():
            try:
                result = on_redis()
            except redis.RedisError as problem:
                self.failed(problem)
            else:
                self.answered()
                return result
        return otherwise()

    async def call_async(
        self, on_redis: Callable[[], Awaitable[T]], otherwise: Callable[[], Awaitable[T]]
    ) -> T:
        if self.worth_trying():
            try:
                result = await on_redis()
            except redis.RedisError as problem:
                self.failed(problem)
            else:
                self.answered()
                return result
        return await otherwise()

    def worth_trying(self) -> bool:
        return self._clock() >= self._retry_at

    def failed(self, problem: redis.RedisError) -> None:
        if not self._down:
            log.warning(
                "Redis does not answer (%s): failed look-ups are counted in the database and "
                "request budgets per instance until it does",
                type(problem).__name__,
            )
        self._down = True
        self._retry_at = self._clock() + self._pause

    def answered(self) -> None:
        if self._down:
            log.info("Redis answers again: rate-limit counters are back in Redis")
        self._down = False


class FailureLogOverRedis:
    """`RedisFailureLog`, with the database's log while Redis does not answer."""

    in_database = False

    def __init__(self, primary: RedisFailureLog, fallback: DatabaseFailureLog,
                 health: RedisHealth) -> None:  # fmt: skip
        self._primary = primary
        self._fallback = fallback
        self._health = health

    def add(self, keys: Sequence[str], at: float, forget_before: float) -> None:
        self._health.call(
            lambda: self._primary.add(keys, at, forget_before),
            lambda: self._fallback.add(keys, at, forget_before),
        )

    async def newest(self, keys: Sequence[str], since: float, count: int) -> dict[str, list[float]]:
        return await self._health.call_async(
            lambda: self._primary.newest(keys, since, count),
            lambda: self._fallback.newest(keys, since, count),
        )


class CounterOverRedis:
    """`RedisWindowCounter`, with this instance's memory while Redis does not answer."""

    blocking = True

    def __init__(self, primary: RedisWindowCounter, fallback: MemoryWindowCounter,
                 health: RedisHealth) -> None:  # fmt: skip
        self._primary = primary
        self._fallback = fallback
        self._health = health

    def increment(self, key: str, window: int, ttl_seconds: int) -> int:
        return self._health.call(
            lambda: self._primary.increment(key, window, ttl_seconds),
            lambda: self._fallback.increment(key, window, ttl_seconds),
        )


def limiters(
    settings: Settings, engine: Engine, reader: Reader
) -> tuple[LookupLimiter, RequestBudget]:
    """The look-up limiter and the request budget, on Redis when configured, else the database."""
    failures: FailureLog
    counter: WindowCounter
    if settings.redis_url:
        # One immediate retry, on a fresh connection after Redis restarted; redis-py's default
        # (10, backing off to a second) would hold every request through an outage.
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 1)
        )
        async_client = AsyncRedis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=AsyncRetry(NoBackoff(), 1),
        )
        health = RedisHealth()
        failures = FailureLogOverRedis(
            RedisFailureLog(client, async_client, settings.redis_key_prefix),
            DatabaseFailureLog(engine, reader),
            health,
        )
        counter = CounterOverRedis(
            RedisWindowCounter(client, settings.redis_key_prefix), MemoryWindowCounter(), health
        )
    else:
        failures = DatabaseFailureLog(engine, reader)
        counter = MemoryWindowCounter()
    lookup = LookupLimiter(
        failures, settings.failed_lookup_limit, settings.failed_lookup_window_seconds
    )
    return lookup, RequestBudget(counter, settings.token_request_budget_per_minute)
