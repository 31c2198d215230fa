"""EPU IDs: generation, check character (Luhn mod 32 over Crockford base32), normalisation, display.

The national generation rule (GIE SESAM-Vitale SEL-SFG-023) is not public, so generation sits behind
`EpuIdGenerator`; everything else only relies on the format checked here.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from app.domain.errors import GatewayError, error

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FORMAT_PREFIX = "01"
RANDOM_LENGTH = 15
LENGTH = len(FORMAT_PREFIX) + RANDOM_LENGTH + 1
EPU_SYSTEM = "urn:oid:1.2.250.1.215.500.1.1"
QR_PREFIX = "EPU:"

_POSITION = {char: index for index, char in enumerate(ALPHABET)}
_N = len(ALPHABET)
# Crockford's reading of characters a person may type for another.
_HUMAN_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\t": None})


def check_character(payload: str) -> str:
    """Luhn mod N check character for `payload` (characters of ALPHABET)."""
    factor = 2
    total = 0
    for char in reversed(payload):
        addend = factor * _POSITION[char]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return ALPHABET[(_N - total % _N) % _N]


def is_valid(epu: str) -> bool:
    """True when `epu` is a well-formed ID (already normalised) whose check character matches."""
    return (
        len(epu) == LENGTH
        and all(char in _POSITION for char in epu)
        and check_character(epu[:-1]) == epu[-1]
    )


class EpuIdGenerator(Protocol):
    def __call__(self) -> str: ...


def generate() -> str:
    """A new EPU ID: format prefix, 75 random bits, check character."""
    body = FORMAT_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_character(body)


def normalise(raw: str, expression: str = "epu") -> str:
    """The canonical ID behind what a person typed or a scanner read, or a 400 saying what is wrong.

    Accepts the `EPU:` QR prefix, any case, spaces and hyphens, and O/I/L typed for 0/1/1.
    """
    text = raw.strip()
    if text.upper().startswith(QR_PREFIX):
        text = text[len(QR_PREFIX) :]
    candidate = text.upper().translate(_HUMAN_FOLD)
    if len(candidate) != LENGTH or any(char not in _POSITION for char in candidate):
        raise malformed(expression)
    if check_character(candidate[:-1]) != candidate[-1]:
        raise error(
            400,
            "EPU_CHECK_MISMATCH",
            "The EPU code's check character does not match: the code was probably mistyped.",
            expression,
        )
    return candidate


def malformed(expression: str = "epu") -> GatewayError:
    return error(
        400,
        "EPU_MALFORMED",
        f"An EPU code has {LENGTH} characters from 0-9 and A-Z without I, L, O, U "
        "(hyphens and spaces allowed), e.g. 01S2-TBPZ-2JCN-ZZYG-HD.",
        expression,
    )


def grouped(epu: str) -> str:
    """The ID as printed for people: groups of four, `01S2-TBPZ-2JCN-ZZYG-HD`."""
    return "-".join(epu[i : i + 4] for i in range(0, len(epu), 4))


def qr_content(epu: str) -> str:
    """What the QR code holds: `EPU:` and the bare ID (QR alphanumeric mode)."""
    return QR_PREFIX + epu
