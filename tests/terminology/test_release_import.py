"""Importing a release: every format stores and activates, a repeat changes nothing, and a refused
file leaves the active release in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.config import Settings
from app.store.database import create_database_engine
from app.store.migrate import migrate
from app.store.tables import TerminologyRelease
from app.store.terminology_releases import Activation, VersionConflict, active_release_id
from app.terminology.concepts import Concept, RequiredContext
from app.terminology.importing import ReleaseRefused, import_file
from app.terminology.release import ReleaseFormatError
from app.terminology.serialised import concepts_from_json, concepts_to_json


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database_engine(Settings(data_dir=tmp_path / "data"))
    migrate(engine)
    yield engine
    engine.dispose()


def stored_releases(engine: Engine) -> int:
    with Session(engine) as session:
        return int(
            session.execute(select(func.count()).select_from(TerminologyRelease)).scalar_one()
        )


@pytest.mark.parametrize(
    ("name", "accepted", "rejected"),
    [("jdv.csv", 6, 1), ("jdv.xlsx", 5, 1), ("svs.xml", 6, 1), ("valueset.json", 7, 1),
     ("codesystem.json", 5, 1)],
)  # fmt: skip
def test_each_format_is_stored_and_becomes_active(
    engine: Engine, fixtures_dir: Path, name: str, accepted: int, rejected: int
) -> None:
    report = import_file(engine, fixtures_dir / name)

    assert (report.accepted, len(report.rejected)) == (accepted, rejected)
    assert report.activation is Activation.STORED
    assert active_release_id(engine) == report.release_id
    assert report.lines()[0].startswith(f"{accepted} concepts accepted, {rejected} row rejected")


def test_the_same_release_again_is_already_loaded_and_adds_no_row(
    engine: Engine, fixtures_dir: Path
) -> None:
    first = import_file(engine, fixtures_dir / "jdv.csv")

    again = import_file(engine, fixtures_dir / "jdv.csv")

    assert again.activation is Activation.ALREADY_ACTIVE
    assert again.release_id == first.release_id
    assert "already loaded" in again.lines()[-1]
    assert stored_releases(engine) == 1


def test_an_earlier_release_imported_again_is_active_again(
    engine: Engine, fixtures_dir: Path
) -> None:
    first = import_file(engine, fixtures_dir / "jdv.csv")
    import_file(engine, fixtures_dir / "svs.xml")

    again = import_file(engine, fixtures_dir / "jdv.csv")

    assert again.activation is Activation.REACTIVATED
    assert active_release_id(engine) == first.release_id
    assert stored_releases(engine) == 2


def test_same_version_with_other_content_is_refused(
    engine: Engine, fixtures_dir: Path, tmp_path: Path
) -> None:
    first = import_file(engine, fixtures_dir / "jdv.csv")
    edited = tmp_path / "jdv.csv"
    edited.write_text("Code;Libellé\n2842-3;Prolactine\n", encoding="utf-8")

    with pytest.raises(VersionConflict):
        import_file(engine, edited)

    assert active_release_id(engine) == first.release_id
    assert import_file(engine, edited, version="2025-02").activation is Activation.STORED


def test_a_file_without_a_valid_row_is_refused_and_the_active_release_kept(
    engine: Engine, fixtures_dir: Path, tmp_path: Path
) -> None:
    first = import_file(engine, fixtures_dir / "jdv.csv")
    empty = tmp_path / "jdv-2025.csv"
    empty.write_text("Code;Libellé\n;sans code\n1234-5;mauvaise clé\n", encoding="utf-8")

    with pytest.raises(ReleaseRefused) as refused:
        import_file(engine, empty)

    assert [where for where, _ in refused.value.rejected] == ["line 2", "line 3"]
    assert active_release_id(engine) == first.release_id
    assert stored_releases(engine) == 1


def test_an_unreadable_file_is_refused_and_the_active_release_kept(
    engine: Engine, fixtures_dir: Path, tmp_path: Path
) -> None:
    first = import_file(engine, fixtures_dir / "jdv.csv")
    broken = tmp_path / "jdv.json"
    broken.write_text('{"resourceType": "ValueSet", ', encoding="utf-8")

    with pytest.raises(ReleaseFormatError):
        import_file(engine, broken)

    assert active_release_id(engine) == first.release_id


def test_concepts_survive_the_round_trip_through_json() -> None:
    concepts = [
        Concept("2842-3", "Prolactine", ("PRL",), (RequiredContext("8665-2", "Date des règles"),)),
        Concept("57022-6", "Numération formule sanguine"),
    ]
    assert concepts_from_json(concepts_to_json(concepts)) == concepts


def test_stored_bytes_of_another_shape_are_a_value_error() -> None:
    with pytest.raises(ValueError):
        concepts_from_json(b'[{"code": "2842-3"}]')
