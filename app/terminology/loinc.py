"""LOINC code shape: digits, a hyphen, and the mod 10 check digit LOINC computes over the digits."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"^(\d{1,7})-(\d)$")


def check_digit(body: str) -> str:
    """The LOINC check digit of `body` (the digits before the hyphen): Luhn mod 10."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return str((10 - total % 10) % 10)


def problem(code: str) -> str | None:
    """Why `code` is not a well-formed LOINC code, or None when it is."""
    match = _SHAPE.match(code)
    if match is None:
        return f"not a LOINC code (digits-checkdigit expected): {code!r}"
    body, digit = match.groups()
    expected = check_digit(body)
    if digit != expected:
        return f"LOINC check digit mismatch for {code!r}: expected {body}-{expected}"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
