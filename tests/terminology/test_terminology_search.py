"""Searching the curated subset the way prescribers type: abbreviations, no accents, any case."""

from __future__ import annotations

import pytest

from app.terminology.concepts import Concept, RequiredContext
from app.terminology.index import Terminology, search_key


def codes(terminology: Terminology, text: str | None) -> list[str]:
    return [concept.code for concept in terminology.expand(text)[1]]


def test_nfs_finds_the_blood_count_first(curated: Terminology) -> None:
    assert codes(curated, "nfs")[0] == "57022-6"


@pytest.mark.parametrize("text", ["hemogramme", "HÉMOGRAMME", "Hémogramme", "numeration formule"])
def test_hemogramme_without_accents_finds_the_blood_count(curated: Terminology, text: str) -> None:
    assert codes(curated, text)[0] == "57022-6"


def test_tsh_finds_thyrotropin_first(curated: Terminology) -> None:
    assert codes(curated, "TSH")[0] == "3016-3"
    assert codes(curated, "tsh") == codes(curated, "TSH")


def test_multi_word_filter_needs_every_word(curated: Terminology) -> None:
    assert codes(curated, "glycemie a jeun") == ["1558-6"]


def test_word_order_does_not_matter_for_word_prefixes(curated: Terminology) -> None:
    assert "1558-6" in codes(curated, "jeun glyc")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CRP", "1988-5"),
        ("ferritine", "2276-4"),
        ("HbA1c", "4548-4"),
        ("INR", "6301-6"),
        ("créatinine", "2160-0"),
        ("DFG", "62238-1"),
        ("ionogramme", "24326-1"),
        ("bhcg", "21198-7"),
        ("PSA", "2857-1"),
        ("vitamine D", "62292-8"),
        ("ECBU", "630-4"),
        ("EAL", "24331-1"),
        ("bilan lipidique", "24331-1"),
        ("prolactine", "2842-3"),
    ],
)
def test_common_requests_find_their_exam_first(curated: Terminology, text: str, code: str) -> None:
    assert codes(curated, text)[0] == code


def test_a_code_or_its_prefix_finds_the_concept(curated: Terminology) -> None:
    assert codes(curated, "2842-3") == ["2842-3"]
    assert codes(curated, "2842")[0] == "2842-3"


def test_no_filter_lists_everything_alphabetically(curated: Terminology) -> None:
    total, page = curated.expand(None)
    assert total == curated.size == len(page)
    labels = [search_key(concept.display) for concept in page]
    assert labels == sorted(labels)


def test_nothing_matches_gibberish(curated: Terminology) -> None:
    assert curated.expand("zzqx") == (0, [])


def test_pages_slice_the_ranked_matches_and_keep_the_total(curated: Terminology) -> None:
    total, everything = curated.expand("creatinine")
    assert total == len(everything) > 2
    assert curated.expand("creatinine", offset=1, count=2) == (total, everything[1:3])
    assert curated.expand("creatinine", offset=total) == (total, [])


def test_negative_paging_is_refused(curated: Terminology) -> None:
    with pytest.raises(ValueError):
        curated.expand("nfs", offset=-1)


def test_ranking_is_exact_then_prefix_then_word_prefix_then_substring() -> None:
    terminology = Terminology(
        "urn:test",
        "1",
        [
            Concept("1-8", "Examen des urines"),  # a word starts with the filter
            Concept("2-6", "Sédimenturine"),  # the filter is only inside a word
            Concept("3-4", "Urines"),  # prefix of the label
            Concept("4-2", "Analyse", ("urine",)),  # exact synonym
        ],
    )
    assert codes(terminology, "urine") == ["4-2", "3-4", "1-8", "2-6"]


def test_ties_are_broken_alphabetically_by_label() -> None:
    terminology = Terminology(
        "urn:test", "1", [Concept("1-8", "Zinc sérique"), Concept("2-6", "Acide sérique")]
    )
    assert codes(terminology, "serique") == ["2-6", "1-8"]


def test_prolactin_requires_the_date_of_last_menstrual_period(curated: Terminology) -> None:
    prolactin = curated.lookup("2842-3")
    assert prolactin is not None
    assert [context.code for context in prolactin.required_context] == ["8665-2"]
    assert isinstance(prolactin.required_context[0], RequiredContext)


def test_lookup_of_an_unknown_code_is_none(curated: Terminology) -> None:
    assert curated.lookup("2842-4") is None


def test_a_terminology_refuses_duplicate_codes() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Terminology("urn:test", "1", [Concept("2842-3", "a"), Concept("2842-3", "b")])
