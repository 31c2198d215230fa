"""The docker-compose topology, read as YAML (no Docker engine needed): PostgreSQL, one migration
run, several gateways behind nginx and a daily purge, each with a health check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


def test_every_long_running_service_has_a_health_check() -> None:
    services = _services()
    for name, service in services.items():
        if name != "migrate":
            assert service.get("healthcheck", {}).get("test"), name


def test_gateways_wait_for_the_migration_and_share_one_database() -> None:
    services = _services()
    gateways = [s for name, s in services.items() if name.startswith("gateway")]
    assert len(gateways) >= 2
    assert services["migrate"]["command"] == ["epu", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    urls = {g["environment"]["EPU_DATABASE_URL"] for g in gateways}
    assert urls == {services["migrate"]["environment"]["EPU_DATABASE_URL"]}
    for gateway in gateways:
        depends = gateway["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert "/data" in " ".join(gateway["volumes"])  # one token key for every instance
        assert {"EPU_DATA_DIR", "EPU_PUBLIC_BASE_URL"} <= set(gateway["environment"])


def test_nginx_fronts_every_gateway_once_they_are_healthy() -> None:
    services = _services()
    nginx = services["nginx"]
    gateways = {name for name in services if name.startswith("gateway")}
    assert {name for name, d in nginx["depends_on"].items()
            if d["condition"] == "service_healthy"} == gateways  # fmt: skip
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert all(f"server {name}:8000" in config for name in gateways)
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]


def test_a_purge_runs_every_day_on_the_migrated_database() -> None:
    services = _services()
    purge = services["purge"]
    assert "epu purge" in " ".join(purge["command"]) and "sleep 86400" in purge["command"][-1]
    assert purge["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (
        purge["environment"]["EPU_DATABASE_URL"]
        == (services["migrate"]["environment"]["EPU_DATABASE_URL"])
    )
    assert purge["healthcheck"]["test"] == ["CMD", "epu", "purge", "--dry-run"]
