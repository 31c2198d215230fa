"""From what a hand scanner typed, or what QR decoders read, to one EPU ID.

A hand scanner is a keyboard: it sends key positions, and the computer's layout turns them into
characters. A scanner wired for US QWERTY typing into a French AZERTY layout therefore produces
`EPUMà&...` for `EPU:01...`. We repair that damage when it is unmistakable, then let
`epu_id.normalise` judge the result.
"""

from __future__ import annotations

import unicodedata

from app.domain import epu_id
from app.domain.errors import GatewayError, error

# What an AZERTY layout prints for the key a US scanner presses for each character. Digits come
# out unshifted on AZERTY, and A/Q, Z/W, M trade places with their neighbours.
_US_KEYS_ON_AZERTY = {
    "&": "1", "é": "2", '"': "3", "'": "4", "(": "5", "-": "6", "è": "7", "_": "8", "ç": "9",
    "à": "0", "Q": "A", "A": "Q", "W": "Z", "Z": "W", "?": "M", "q": "A", "a": "Q", "w": "Z",
    "z": "W", ",": "M",
}  # fmt: skip
# Characters no EPU spelling contains but an AZERTY-damaged one always does, since every ID has
# digits. `-` is left out: it is also the hyphen of the grouped form.
_AZERTY_MARKERS = frozenset("&é\"'(è_çà?")
# What the `:` of `EPU:` becomes on common layouts: AZERTY gives `M`, others `.`, `/`, `;`, `Ö`.
_PREFIX_SEPARATORS = frozenset(":./;MÖÑ")
_QR_WORD = epu_id.QR_PREFIX[:-1]
_SHOWN_LENGTH = 40


def epu_from_scanned_text(text: str, expression: str = "body") -> str:
    """The EPU ID in a scanner's output (`EPU:<id>`, bare, grouped, layout-damaged), or a 400."""
    cleaned = _printable_only(text).strip()
    if any(char in _AZERTY_MARKERS for char in cleaned):
        cleaned = "".join(_US_KEYS_ON_AZERTY.get(char, char) for char in cleaned)
    return epu_id.normalise(_without_prefix(cleaned), expression)


def epu_from_qr_texts(texts: list[str]) -> str:
    """The EPU ID among the texts of the QR codes found in one image, or a 422 saying why none.

    Two different EPU IDs in one photo are refused: pulling either could hand the lab the wrong
    prescription.
    """
    if not texts:
        raise error(
            422,
            "QR_NOT_FOUND",
            "No QR code could be read in the image. Photograph the code flat, in focus and filling "
            "a good part of the picture, or type the code printed under it.",
            "body",
            issue_type="not-found",
        )
    found: list[str] = []
    for text in texts:
        try:
            epu = epu_from_scanned_text(text)
        except GatewayError:
            continue
        if epu not in found:
            found.append(epu)
    if len(found) > 1:
        raise error(
            422,
            "QR_AMBIGUOUS",
            f"The image holds {len(found)} different EPU codes; photograph only one.",
            "body",
        )
    if found:
        return found[0]
    raise error(
        422,
        "QR_NOT_OURS",
        f"The QR code found does not hold an EPU code; it holds: '{shown(texts[0])}'",
        "body",
    )


def shown(text: str) -> str:
    """`text` safe to echo in a message: control and other non-printable characters as `?`, cut."""
    safe = "".join(char if char.isprintable() else "?" for char in text)
    return safe if len(safe) <= _SHOWN_LENGTH else safe[:_SHOWN_LENGTH] + "..."


def _printable_only(text: str) -> str:
    # Scanners end with CR/LF or Tab and may add other control or format characters around it.
    return "".join(char for char in text if unicodedata.category(char)[0] != "C")


def _without_prefix(text: str) -> str:
    """Drop `EPU` and whatever the layout made of its `:`; an ID never starts with `E`."""
    if text[: len(_QR_WORD)].upper() == _QR_WORD:
        rest = text[len(_QR_WORD) :].lstrip()
        if rest[:1].upper() in _PREFIX_SEPARATORS:
            return rest[1:]
        return rest
    return text
