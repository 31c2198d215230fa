"""Given what a hand scanner typed or QR decoders read, we find the EPU ID or say why not."""

from __future__ import annotations

import pytest

from app.domain import epu_id
from app.domain.errors import GatewayError
from app.qr.scanned_text import epu_from_qr_texts, epu_from_scanned_text

EPU = "01S2TBPZ2JCNZZYGH" + epu_id.check_character("01S2TBPZ2JCNZZYGH")
# What a US-wired scanner produces on an AZERTY layout, key for key.
AZERTY = str.maketrans({
    "1": "&", "2": "é", "3": '"', "4": "'", "5": "(", "6": "-", "7": "è", "8": "_", "9": "ç",
    "0": "à", "A": "Q", "Q": "A", "Z": "W", "W": "Z", "M": "?", ":": "M",
})  # fmt: skip


def on_azerty(text: str) -> str:
    return text.translate(AZERTY)


def refusal(texts: list[str]) -> tuple[int, str | None, str]:
    with pytest.raises(GatewayError) as refused:
        epu_from_qr_texts(texts)
    issue = refused.value.issues[0]
    return refused.value.status, issue.error_code, issue.diagnostics


@pytest.mark.parametrize(
    "typed",
    [
        "EPU:" + EPU,
        EPU,
        epu_id.grouped(EPU),
        "epu:" + EPU.lower(),
        "EPU:" + EPU + "\r\n",
        "\x02EPU:" + EPU + "\x03",
        "  " + epu_id.grouped(EPU) + "\t",
        "EPU." + EPU,
        "EPU/" + EPU,
        "EPU;" + epu_id.grouped(EPU),
    ],
)
def test_scanner_spellings_give_the_id(typed: str) -> None:
    assert epu_from_scanned_text(typed) == EPU


# The second ID holds every key an AZERTY layout moves.
@pytest.mark.parametrize(
    "epu", [EPU, "01QAWZM0123456789" + epu_id.check_character("01QAWZM0123456789")]
)
def test_a_us_scanner_on_an_azerty_layout_is_repaired(epu: str) -> None:
    damaged = on_azerty("EPU:" + epu)
    assert damaged.startswith("EPUMà&")

    assert epu_from_scanned_text(damaged) == epu
    assert epu_from_scanned_text(on_azerty(epu)) == epu


def test_a_mistyped_code_still_fails_its_check_character() -> None:
    with pytest.raises(GatewayError) as refused:
        epu_from_scanned_text("EPU:" + EPU[:-1] + ("0" if EPU[-1] != "0" else "1"))

    assert refused.value.issues[0].error_code == "EPU_CHECK_MISMATCH"


def test_text_that_is_no_code_is_malformed() -> None:
    with pytest.raises(GatewayError) as refused:
        epu_from_scanned_text("https://example.org")

    assert (refused.value.status, refused.value.issues[0].error_code) == (400, "EPU_MALFORMED")


def test_ours_is_picked_among_other_codes() -> None:
    assert epu_from_qr_texts(["WIFI:S:lab;;", "EPU:" + EPU, "EPU:" + EPU]) == EPU


def test_no_code_found_says_so() -> None:
    status, code, diagnostics = refusal([])

    assert (status, code) == (422, "QR_NOT_FOUND")
    assert diagnostics.startswith("No QR code could be read in the image")


def test_a_foreign_code_is_named_but_sanitised_and_cut() -> None:
    status, code, diagnostics = refusal(["https://pay.example\x1b[31m\x00\x07" + "x" * 80])

    assert (status, code) == (422, "QR_NOT_OURS")
    assert diagnostics.startswith("The QR code found does not hold an EPU code; it holds: '")
    assert "https://pay.example?[31m??xx" in diagnostics
    assert all(char.isprintable() for char in diagnostics)
    assert len(diagnostics) < 130


def test_two_different_ids_in_one_photo_are_refused() -> None:
    other = epu_id.generate()

    assert refusal(["EPU:" + EPU, "EPU:" + other])[:2] == (422, "QR_AMBIGUOUS")
