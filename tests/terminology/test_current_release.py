"""An instance follows the release activated in the database: at most every refresh interval on
its own, at once when asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.config import Settings
from app.store.database import create_database_engine
from app.store.migrate import migrate
from app.terminology.current import CurrentTerminology
from app.terminology.importing import import_file
from app.terminology.index import Terminology


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database_engine(Settings(data_dir=tmp_path / "data"))
    migrate(engine)
    yield engine
    engine.dispose()


def test_without_an_imported_release_the_curated_subset_is_served(
    engine: Engine, curated: Terminology
) -> None:
    assert CurrentTerminology(engine, curated, 30).get() is curated


def test_a_release_imported_elsewhere_shows_after_the_refresh_interval(
    engine: Engine, curated: Terminology, fixtures_dir: Path
) -> None:
    clock = Clock()
    current = CurrentTerminology(engine, curated, 30, clock)
    assert current.get() is curated

    import_file(engine, fixtures_dir / "svs.xml")
    clock.now += 29
    still = current.get()
    clock.now += 1
    now = current.get()

    assert still is curated
    assert (now.url, now.version) == ("urn:oid:1.2.250.1.213.1.1.5.999", "20240628120000")
    assert now.lookup("2160-0") is not None
    assert current.get() is now  # loaded once, not per request


def test_refresh_shows_a_new_release_at_once(
    engine: Engine, curated: Terminology, fixtures_dir: Path
) -> None:
    current = CurrentTerminology(engine, curated, 30, Clock())
    current.get()

    import_file(engine, fixtures_dir / "jdv.csv")

    assert current.refresh().version == "jdv"
