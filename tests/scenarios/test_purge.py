"""Retention: closed prescriptions untouched past the delay go with everything they own; recent
and active ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.cli import main as epu
from app.config import Settings
from app.store.purge import count_due, purge
from tests.conftest import Tokens
from tests.scenarios.workflow_steps import new_prescription, operation, set_status, tasks


def _completed(client: TestClient, tokens: Tokens) -> str:
    epu_code = new_prescription(client, tokens)
    assert operation(client, "claim", tokens.lab(), epu_code).status_code == 200
    for line in tasks(client, tokens.lab(), epu_code)["lines"]:
        assert set_status(client, tokens.lab(), line, "completed").status_code == 200
    return epu_code


def _cancelled(client: TestClient, tokens: Tokens) -> str:
    epu_code = new_prescription(client, tokens)
    response = operation(client, "cancel", tokens.prescriber(), epu_code, reason="doublon")
    assert response.status_code == 200, response.text
    return epu_code


def _age(engine: Engine, epu_code: str, days: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE prescriptions SET last_updated = :at WHERE epu = :epu"),
            {"at": datetime.now(UTC) - timedelta(days=days), "epu": epu_code},
        )


def _count(engine: Engine, table: str, epu_code: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE epu = :epu"), {"epu": epu_code}
        ).scalar_one())  # fmt: skip


def test_old_closed_prescriptions_go_and_the_rest_stays(client: TestClient, tokens: Tokens) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    old_completed, old_cancelled = _completed(client, tokens), _cancelled(client, tokens)
    recent_cancelled = _cancelled(client, tokens)
    old_active = new_prescription(client, tokens)
    for code in (old_completed, old_cancelled, old_active):
        _age(engine, code, days=120)
    now = datetime.now(UTC)

    assert count_due(engine, now - timedelta(days=90), now) == 2
    purged = purge(engine, now - timedelta(days=90), now, batch=1)

    assert (purged.prescriptions, purged.batches) == (2, 2)
    assert purged.resources > 0 and purged.versions > 0  # the Tasks moved: superseded versions
    for gone in (old_completed, old_cancelled):
        assert _count(engine, "prescriptions", gone) == 0
        assert _count(engine, "resources", gone) == 0
        assert _count(engine, "idempotency_records", gone) == 0
        pulled = client.get(f"/fhir/ServiceRequest?requisition={gone}", headers=tokens.lab())
        assert pulled.status_code == 404
    for kept in (recent_cancelled, old_active):
        assert _count(engine, "prescriptions", kept) == 1
        assert _count(engine, "resources", kept) > 0
    with engine.connect() as connection:
        orphans = connection.execute(text(
            "SELECT count(*) FROM resource_versions v WHERE NOT EXISTS "
            "(SELECT 1 FROM resources r WHERE r.resource_type = v.resource_type AND r.id = v.id)"
        )).scalar_one()  # fmt: skip
    assert orphans == 0


def test_the_command_counts_on_a_dry_run_and_purges_otherwise(
    client: TestClient, tokens: Tokens, settings: Settings, monkeypatch: object, capsys: object
) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    old = _cancelled(client, tokens)
    _age(engine, old, days=40)
    setenv = monkeypatch.setenv  # type: ignore[attr-defined]
    setenv("EPU_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        setenv("EPU_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("EPU_DATABASE_URL", raising=False)  # type: ignore[attr-defined]
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        assert epu(["purge", "--older-than-days", "30", "--dry-run"]) == 0
        assert _count(engine, "prescriptions", old) == 1
        assert epu(["purge"]) == 0  # the default 90 days: still kept
        assert _count(engine, "prescriptions", old) == 1
        assert epu(["purge", "--older-than-days", "30", "--batch", "10"]) == 0
        assert _count(engine, "prescriptions", old) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "1 prescriptions" in printed and "prescriptions=1" in printed
