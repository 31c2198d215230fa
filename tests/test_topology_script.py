"""`scripts/run_topology.sh --check`: the docker-compose topology without Docker (PostgreSQL, a
migration, two `epu serve --workers 2`, nginx in front) starts, answers through nginx, and
stops without leaving a process behind."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import psycopg
import pytest

from tests.conftest import POSTGRES, POSTGRES_URL
from tests.gateway_process import ROOT, free_port

pytestmark = [
    pytest.mark.skipif(not POSTGRES, reason="PostgreSQL does not answer"),
    pytest.mark.skipif(
        shutil.which("nginx") is None and os.geteuid() != 0,
        reason="nginx is not installed and the script can install it only as root",
    ),
]


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_the_topology_answers_through_nginx_and_stops_cleanly() -> None:
    plain = POSTGRES_URL.replace("+psycopg", "")
    server = plain.rsplit("/", 1)[0]
    name = f"epu_topology_{uuid.uuid4().hex[:10]}"
    gateways, listen = [free_port(), free_port()], free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("EPU_")}
    env |= {"EPU_TOPOLOGY_DB": f"{server}/{name}", "EPU_TOPOLOGY_LISTEN": str(listen),
            "EPU_TOPOLOGY_PORTS": " ".join(map(str, gateways))}  # fmt: skip
    try:
        run = subprocess.run(
            ["scripts/run_topology.sh", "--check"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

        assert run.returncode == 0, run.stderr[-3000:]
        assert '"status":"ok"' in run.stdout
        assert '"dialect":"postgresql"' in run.stdout
        assert not any(_answers(port) for port in [*gateways, listen])
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
