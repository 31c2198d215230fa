"""EPU IDs: what a person may type, what the check character catches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import epu_id
from app.domain.errors import GatewayError

ids = st.builds(lambda _: epu_id.generate(), st.integers())
random_bodies = st.text(alphabet=epu_id.ALPHABET, min_size=15, max_size=15)


def _with_check(body: str) -> str:
    payload = epu_id.FORMAT_PREFIX + body
    return payload + epu_id.check_character(payload)


@given(ids)
def test_every_generated_id_is_valid_and_has_the_format(epu: str) -> None:
    assert len(epu) == 18 and epu.startswith("01")
    assert epu_id.is_valid(epu)
    assert epu_id.normalise(epu) == epu


@settings(max_examples=200)
@given(random_bodies, st.integers(0, 17), st.integers(1, 31))
def test_every_single_character_substitution_is_caught(
    body: str, position: int, shift: int
) -> None:
    epu = _with_check(body)
    index = epu_id.ALPHABET.index(epu[position])
    wrong = epu_id.ALPHABET[(index + shift) % 32]
    typo = epu[:position] + wrong + epu[position + 1 :]
    assert not epu_id.is_valid(typo)


@settings(max_examples=300)
@given(random_bodies, st.integers(0, 16))
def test_every_adjacent_swap_is_caught_except_zero_and_z(body: str, position: int) -> None:
    epu = _with_check(body)
    a, b = epu[position], epu[position + 1]
    swapped = epu[:position] + b + a + epu[position + 2 :]
    if a == b or {a, b} == {"0", "Z"}:
        return
    assert not epu_id.is_valid(swapped)


def test_zero_z_swap_is_the_algorithm_blind_spot() -> None:
    epu = _with_check("0Z" + "1" * 13)
    swapped = epu[:2] + "Z0" + epu[4:]
    assert epu_id.is_valid(swapped)


@given(ids)
def test_human_spellings_normalise_to_the_id(epu: str) -> None:
    for spelling in (
        epu_id.grouped(epu),
        epu_id.grouped(epu).lower(),
        " " + epu_id.qr_content(epu) + " ",
        epu.replace("0", "O").replace("1", "I"),
        epu.replace("1", "l"),
        " ".join(epu_id.grouped(epu).split("-")),
    ):
        assert epu_id.normalise(spelling) == epu


def test_grouped_code_is_printed_in_fours() -> None:
    assert epu_id.grouped("01S2TBPZ2JCNZZYGHD") == "01S2-TBPZ-2JCN-ZZYG-HD"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("01S2TBPZ2JCNZZYGH", "EPU_MALFORMED"),  # one character short
        ("01S2TBPZ2JCNZZYGHDD", "EPU_MALFORMED"),
        ("01S2TBPZ2JCNZZYGHU", "EPU_MALFORMED"),  # U is not in the alphabet
        ("01S2-TBPZ-2JCN-ZZYG-HZ", "EPU_CHECK_MISMATCH"),
        ("01S2-TBPZ-2JCN-ZZYG-DH", "EPU_CHECK_MISMATCH"),
    ],
)
def test_wrong_codes_say_whether_malformed_or_mistyped(typed: str, code: str) -> None:
    with pytest.raises(GatewayError) as refused:
        epu_id.normalise(typed)
    assert refused.value.status == 400
    assert refused.value.issues[0].error_code == code
