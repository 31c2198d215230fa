"""Tokens already verified, kept until they expire: a signature check costs more than the rest
of a pull, and a client sends the same token for an hour."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from app.security.caller import Caller


class VerifiedTokens:
    """A bounded LRU of callers by the SHA-256 of their raw token (the token itself is a secret
    and need not sit in memory twice), each dropped at its token's expiry."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[Caller, float]] = OrderedDict()
        self._lock = threading.Lock()  # handlers run on a thread pool

    def get(self, token: str) -> Caller | None:
        key = _key(token)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            caller, expires_at = found
            if time.time() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return caller

    def put(self, token: str, caller: Caller, expires_at: float) -> None:
        with self._lock:
            self._entries[_key(token)] = (caller, expires_at)
            self._entries.move_to_end(_key(token))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
