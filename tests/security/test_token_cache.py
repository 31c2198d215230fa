"""Verified tokens are remembered until they expire, and no longer."""

from __future__ import annotations

import time

from app.security.caller import Caller, Role
from app.security.token_cache import VerifiedTokens

LAB = Caller(subject="lab:750000001", role=Role.LAB, rpps=None, lab="750000001")


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    cache = VerifiedTokens()
    cache.put("valid", LAB, time.time() + 60)
    cache.put("expired", LAB, time.time() - 1)

    assert cache.get("valid") == LAB
    assert cache.get("expired") is None
    assert cache.get("never seen") is None


def test_the_least_recently_used_token_goes_first_when_full() -> None:
    cache = VerifiedTokens(capacity=2)
    later = time.time() + 60
    cache.put("a", LAB, later)
    cache.put("b", LAB, later)
    cache.get("a")
    cache.put("c", LAB, later)

    assert cache.get("b") is None
    assert cache.get("a") == LAB and cache.get("c") == LAB
