"""Shared fixtures for terminology tests: the fixture files and the curated subset."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.terminology.index import Terminology
from app.terminology.loader import load_default

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def curated() -> Terminology:
    return load_default()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
