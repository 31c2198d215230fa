"""Anti-guessing and request budgets: failed EPU look-ups are counted per token subject and per
client address, and past a limit the caller gets 429 until the window has passed; a runaway client
gets 429 past its per-minute budget. Counters live in shared stores (app.security.rate_stores), so
several instances enforce one limit."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.domain.errors import GatewayError, error

FAILED_LOOKUP_CODES = frozenset({"EPU_MALFORMED", "EPU_CHECK_MISMATCH", "EPU_UNKNOWN"})
BUDGET_WINDOW_SECONDS = 60

Clock = Callable[[], float]


class FailureLog(Protocol):
    """Where failed look-ups are written down, as epoch seconds per client key."""

    in_database: bool
    """True when the failures are rows of the gateway's own database (`failed_lookups`), which a
    look-up's statement can count itself (see `LookupLimiter.window`)."""

    def add(self, keys: Sequence[str], at: float, forget_before: float) -> None:
        """Record one failure for each key, and forget failures at or before `forget_before`."""

    async def newest(self, keys: Sequence[str], since: float, count: int) -> dict[str, list[float]]:
        """For each key, at most `count` of its failure times after `since`, newest first; one
        read for all keys, since every guarded look-up asks."""


class WindowCounter(Protocol):
    """Counts events per key in fixed windows."""

    blocking: bool
    """True when counting is network I/O (a shared store), which must stay off the event loop."""

    def increment(self, key: str, window: int, ttl_seconds: int) -> int:
        """Add one to `key` in window number `window`; the new count."""


@dataclass(frozen=True)
class FailureWindow:
    """What refuses a client: `limit` failures of one of its keys after `since` (epoch seconds)."""

    keys: list[str]
    since: float
    limit: int


@dataclass(frozen=True)
class Client:
    """Who is asking: the token's subject and the network address it came from."""

    subject: str
    address: str | None

    def counter_keys(self) -> list[str]:
        # Hashed so that keys stay short whatever a token's subject is.
        keys = [_key("sub", self.subject)]
        if self.address:
            keys.append(_key("addr", self.address))
        return keys


@functools.lru_cache(maxsize=4096)
def _key(kind: str, value: str) -> str:
    # Cached: a pull asks for three (its budget's, its client's two), each a SHA-256 that cost
    # 6,600 instructions, and the same clients come back.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


def is_failed_lookup(refused: GatewayError) -> bool:
    return any(issue.error_code in FAILED_LOOKUP_CODES for issue in refused.issues)


def rate_limited(retry_after: int, diagnostics: str) -> GatewayError:
    return error(
        429,
        "RATE_LIMITED",
        diagnostics,
        issue_type="throttled",
        headers={"Retry-After": str(retry_after)},
    )


class LookupLimiter:
    """Refuses EPU look-ups to a client (subject or address) with `limit` failures in the last
    `window_seconds`."""

    def __init__(
        self, failures: FailureLog, limit: int, window_seconds: int, clock: Clock = time.time
    ) -> None:
        self._failures = failures
        self._limit = limit
        self._window = window_seconds
        self._clock = clock

    async def guard(self, client: Client) -> None:
        """429 RATE_LIMITED, with Retry-After, if this client may not look up an EPU now."""
        now = self._clock()
        keys = client.counter_keys()
        newest = await self._failures.newest(keys, now - self._window, self._limit)
        wait = max(self._wait(newest.get(key, []), now) for key in keys)
        if wait > 0:
            raise rate_limited(
                wait,
                "Too many failed EPU look-ups from this account or address; "
                f"try again in {wait} seconds.",
            )

    @property
    def counts_in_database(self) -> bool:
        return self._failures.in_database

    def window(self, client: Client) -> FailureWindow:
        """For a look-up whose own statement counts the client's failures (the pull: one round
        trip instead of two); when that count reaches the limit, `guard` refuses it."""
        return FailureWindow(client.counter_keys(), self._clock() - self._window, self._limit)

    def count_failure(self, client: Client) -> None:
        now = self._clock()
        self._failures.add(client.counter_keys(), now, now - self._window)

    def _wait(self, newest: list[float], now: float) -> int:
        """Seconds until fewer than `limit` of these failures remain in the window; 0 if already."""
        if len(newest) < self._limit:
            return 0
        # The limit-th newest failure is the one whose leaving the window lets the client back in.
        return max(1, math.ceil(newest[-1] + self._window - now))


class RequestBudget:
    """At most `per_minute` authenticated requests per token subject in each minute."""

    def __init__(self, counter: WindowCounter, per_minute: int, clock: Clock = time.time) -> None:
        self._counter = counter
        self._per_minute = per_minute
        self._clock = clock

    @property
    def blocking(self) -> bool:
        return self._counter.blocking

    def spend(self, subject: str) -> None:
        now = self._clock()
        window = int(now // BUDGET_WINDOW_SECONDS)
        used = self._counter.increment(_key("budget", subject), window, 2 * BUDGET_WINDOW_SECONDS)
        if used > self._per_minute:
            retry_after = max(1, math.ceil((window + 1) * BUDGET_WINDOW_SECONDS - now))
            raise rate_limited(
                retry_after,
                f"This account sent more than {self._per_minute} requests in a minute; "
                f"try again in {retry_after} seconds.",
            )
