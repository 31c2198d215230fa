"""Each release format the ANS distributes reads into the same concepts, bad rows set aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.terminology.concepts import RequiredContext
from app.terminology.fhir_json import parse_fhir_json
from app.terminology.loader import parse_file
from app.terminology.release import ReleaseFormatError
from app.terminology.svs import parse_svs
from app.terminology.tabular import parse_csv, parse_xlsx

LMP = RequiredContext("8665-2", "Date des dernières règles")


def test_fhir_value_set_reads_compose_designations_and_expansion(fixtures_dir: Path) -> None:
    release = parse_file(fixtures_dir / "valueset.json")
    assert (release.url, release.version) == (
        "https://example.org/fhir/ValueSet/jdv-fixture",
        "2024-06-28",
    )
    by_code = {concept.code: concept for concept in release.concepts}
    assert len(by_code) == 7
    # The French designation wins over an English display; English synonyms are left out.
    assert by_code["57022-6"].display == "Numération formule sanguine"
    assert by_code["57022-6"].synonyms == ("NFS", "hémogramme")
    assert by_code["2842-3"].required_context == (LMP,)
    assert by_code["1558-6"].synonyms == ("glycémie à jeun",)
    assert "2857-1" in by_code  # only listed in expansion.contains
    assert release.rejected == [("compose.include[0].concept[6]", "missing label for 718-7")]


def test_fhir_code_system_reads_nested_concepts(fixtures_dir: Path) -> None:
    release = parse_file(fixtures_dir / "codesystem.json")
    assert release.version == "3"
    assert [concept.code for concept in release.concepts] == [
        "24331-1",
        "2093-3",
        "2571-8",
        "4548-4",
        "6301-6",
    ]
    assert release.concepts[0].synonyms == ("EAL",)
    assert release.rejected == [
        ("concept[3]", "not a LOINC code (digits-checkdigit expected): 'INR'")
    ]


def test_svs_reads_the_oid_version_and_concepts(fixtures_dir: Path) -> None:
    release = parse_svs((fixtures_dir / "svs.xml").read_bytes())
    assert release.url == "urn:oid:1.2.250.1.213.1.1.5.999"
    assert release.version == "20240628120000"
    assert len(release.concepts) == 6
    assert release.rejected == [
        ("Concept[6]", "LOINC check digit mismatch for '630-5': expected 630-4")
    ]


def test_csv_with_semicolons_reads_synonyms_and_contexts(fixtures_dir: Path) -> None:
    release = parse_file(fixtures_dir / "jdv.csv")
    assert release.version == "jdv"
    by_code = {concept.code: concept for concept in release.concepts}
    assert len(by_code) == 6
    assert by_code["57022-6"].synonyms == ("NFS", "hémogramme")
    assert by_code["2842-3"].required_context == (LMP,)
    assert by_code["3016-3"].required_context == ()
    assert by_code["2243-4"].synonyms == ("oestradiol", "E2")
    assert [c.code for c in by_code["24336-0"].required_context] == ["3150-0", "3151-8"]
    assert release.rejected == [("line 7", "missing code")]


def test_csv_with_commas_and_english_headers() -> None:
    data = (
        "code,display,synonyms,required_context\n"
        "2842-3,Prolactine,PRL,8665-2\n"
        "2842-4,Prolactine mal tapée,,\n"
        "2857-1,PSA,,peut-être\n"
    ).encode()
    release = parse_csv(data, version="v1")
    assert [concept.code for concept in release.concepts] == ["2842-3"]
    assert [ref for ref, _ in release.rejected] == ["line 3", "line 4"]
    assert "unreadable clinical context" in release.rejected[1][1]


def test_csv_saved_by_a_french_windows_spreadsheet_is_read() -> None:
    data = "Code;Libellé\n2842-3;Prolactine sérique\n".encode("cp1252")
    assert parse_csv(data, version="v1").concepts[0].display == "Prolactine sérique"


def test_csv_without_a_code_column_is_refused_as_a_whole() -> None:
    with pytest.raises(ReleaseFormatError, match="code"):
        parse_csv(b"libelle;synonymes\nProlactine;PRL\n", version="v1")


def test_xlsx_reads_the_first_sheet(fixtures_dir: Path) -> None:
    release = parse_xlsx((fixtures_dir / "jdv.xlsx").read_bytes(), version="2024")
    assert len(release.concepts) == 5
    assert release.concepts[2].required_context == (LMP,)
    assert release.concepts[3].synonyms == ("TQ", "temps de prothrombine")
    assert release.rejected == [("JDV!7", "missing label for 14682-9")]


def test_a_parsed_release_becomes_a_searchable_terminology(fixtures_dir: Path) -> None:
    terminology = parse_file(fixtures_dir / "jdv.csv").terminology()
    assert terminology.expand("hemogramme")[1][0].code == "57022-6"


def test_duplicate_codes_are_rejected_after_the_first() -> None:
    release = parse_csv(b"code;libelle\n2842-3;Prolactine\n2842-3;Prolactine bis\n", version="v")
    assert release.rejected == [("line 3", "duplicate code 2842-3")]


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"resourceType": "Patient"}'],
)
def test_json_that_is_not_a_value_set_is_refused(data: bytes) -> None:
    with pytest.raises(ReleaseFormatError):
        parse_fhir_json(data)


def test_svs_with_a_dtd_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ValueSet id="1"/>'
    with pytest.raises(ReleaseFormatError, match="DTD"):
        parse_svs(data)


def test_unknown_extensions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "jdv.txt"
    path.write_text("2842-3")
    with pytest.raises(ReleaseFormatError, match="unsupported"):
        parse_file(path)
