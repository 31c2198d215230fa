"""The curated subset in fhir_profiles/terminology is complete enough for demos and tests."""

from __future__ import annotations

from app.terminology import loinc
from app.terminology.concepts import JDV_URL
from app.terminology.index import Terminology


def test_it_is_ours_versioned_and_large_enough(curated: Terminology) -> None:
    assert curated.url == JDV_URL
    assert curated.version
    assert curated.size >= 80


def test_every_code_is_well_formed_loinc_with_a_french_label(curated: Terminology) -> None:
    _, concepts = curated.expand(None)
    for concept in concepts:
        assert loinc.is_valid(concept.code), concept.code
        assert concept.display.strip(), concept.code
        for context in concept.required_context:
            assert loinc.is_valid(context.code) and context.display, concept.code


def test_the_blood_count_carries_its_usual_names(curated: Terminology) -> None:
    blood_count = curated.lookup("57022-6")
    assert blood_count is not None
    assert {"NFS", "hémogramme", "numération formule sanguine"} <= set(blood_count.synonyms)


def test_sex_hormones_ask_for_the_date_of_last_menstrual_period(curated: Terminology) -> None:
    for code in ("2842-3", "2243-4", "15067-2", "10501-5", "2839-9"):
        concept = curated.lookup(code)
        assert concept is not None
        assert "8665-2" in {context.code for context in concept.required_context}, code
