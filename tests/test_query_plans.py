"""The statements that read one prescription's resources find them by its EPU's index on SQLite,
whatever types they ask for: a plan that walks every resource of a type grows with the
database (claim and done on SQLite did, until the sort left the SQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import Settings
from app.store.database import create_database_engine
from app.store.migrate import migrate
from app.store.resources import (
    _OF_PRESCRIPTION,
    _listed_types,
    prescription_resources_and_failures_statement,
    prescription_resources_statement,
)
from app.workflow.status_search import ListQuery, list_statement
from tests.conftest import PRESCRIBER_RPPS

TYPE_LISTS = [["Task"], ["AuditEvent"], ["Task", "Patient", "ServiceRequest"]]


@pytest.fixture
def database(tmp_path: Path) -> sqlite3.Connection:
    engine = create_database_engine(Settings(data_dir=tmp_path))
    migrate(engine)
    engine.dispose()
    return sqlite3.connect(tmp_path / "epu.sqlite3")


@pytest.mark.parametrize("types", TYPE_LISTS, ids=",".join)
def test_a_prescriptions_resources_are_found_by_its_epu(
    database: sqlite3.Connection, types: list[str]
) -> None:
    statements = [
        _listed_types(_OF_PRESCRIPTION, types),
        prescription_resources_statement(types),
        prescription_resources_and_failures_statement(types),
    ]
    for statement in statements:
        plan = " | ".join(row[3] for row in database.execute(f"EXPLAIN QUERY PLAN {statement.sqlite}",
                          {"epu": "x", "first": "a", "second": "b", "since": "", "limit": 1}))  # fmt: skip
        resources_steps = [step for step in plan.split(" | ") if " resources " in f" {step} "
                           or " r " in f" {step} "]  # fmt: skip
        assert resources_steps, plan
        assert all("ix_resources_epu_type" in step for step in resources_steps), plan


def test_the_prescribers_list_is_read_from_its_index_alone(settings: Settings) -> None:
    """On PostgreSQL an index-only scan: reading the table visited one page per prescription of
    the prescriber, most of them out of memory at 1M prescriptions."""
    engine = create_database_engine(settings)
    migrate(engine)
    query = ListQuery(statuses=("requested", "accepted", "in-progress"))
    statement = list_statement(PRESCRIBER_RPPS, query).compile(
        engine, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # An empty table is cheaper to read whole: ask for the plan a large one gets.
            connection.execute(text("SET enable_seqscan = off"))
            connection.execute(text("SET enable_bitmapscan = off"))
            plan = " | ".join(connection.execute(text(f"EXPLAIN {statement}")).scalars())
            expected = "Index Only Scan Backward using ix_prescriptions_prescriber_list"
        else:
            plan = " | ".join(
                r[3] for r in connection.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
            )
            expected = "USING INDEX ix_prescriptions_prescriber_list"
    engine.dispose()
    assert expected in plan, plan
