"""LOINC codes are recognised by shape and by their mod 10 check digit."""

from __future__ import annotations

import pytest

from app.terminology import loinc


@pytest.mark.parametrize("code", ["2842-3", "8665-2", "57022-6", "718-7", "4548-4", "94500-6"])
def test_real_codes_pass(code: str) -> None:
    assert loinc.is_valid(code)


@pytest.mark.parametrize(
    ("body", "digit"), [("2842", "3"), ("8665", "2"), ("14682", "9"), ("3150", "0")]
)
def test_check_digit_is_computed_from_the_body(body: str, digit: str) -> None:
    assert loinc.check_digit(body) == digit


def test_a_mistyped_check_digit_says_which_digit_was_expected() -> None:
    assert loinc.problem("2842-4") == "LOINC check digit mismatch for '2842-4': expected 2842-3"


def test_a_swap_of_adjacent_digits_is_caught() -> None:
    assert not loinc.is_valid("2482-3")


@pytest.mark.parametrize("code", ["", "2842", "2842-", "-3", "28a2-3", "2842-33", "INR", " 2842-3"])
def test_malformed_codes_are_not_loinc(code: str) -> None:
    problem = loinc.problem(code)
    assert problem is not None and problem.startswith("not a LOINC code")
