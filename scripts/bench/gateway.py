"""Starts gateways for the benchmarks: a scratch data directory, a scratch PostgreSQL database
(created, then dropped) or the embedded SQLite, and `epu serve` subprocesses on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import make_url

from app.config import Settings
from app.security.local_issuer import issue_token

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN = os.environ.get("EPU_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
READY_TIMEOUT = 60.0


@dataclass
class Gateway:
    base_url: str
    settings: Settings
    pid: int
    """The `epu serve` process (its workers are its children)."""

    def token(self, role: str, rpps: str | None = None, lab: str | None = None) -> str:
        return issue_token(self.settings, role, rpps=rpps, lab=lab, ttl_seconds=6 * 3600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url(name: str, driver: str = "postgresql+psycopg") -> str:
    """The URL of database `name` on the server of EPU_BENCH_POSTGRES (a TCP address, or a Unix
    socket as `postgresql://postgres@/test?host=/var/run/postgresql`); `driver` "postgresql" for
    psycopg itself."""
    url = make_url(POSTGRES_ADMIN).set(drivername=driver, database=name)
    return url.render_as_string(hide_password=False)


@contextmanager
def scratch_database(
    kind: str, name: str | None = None, keep: bool = False
) -> Iterator[str | None]:
    """None for SQLite; for PostgreSQL the SQLAlchemy URL of a new database, dropped afterwards
    unless `keep` (or unless `name` names one that already exists, which is reused)."""
    if kind == "sqlite":
        yield None
        return
    name = name or f"epu_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        if not keep and not exists:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def running_gateway(
    database_url: str | None,
    workers: int = 1,
    data_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Gateway]:
    """`epu serve` on a free loopback port, ready (its /health answered) when this yields.

    `extra_env` adds operator settings (`EPU_*` variables) for the gateway process, such as a
    request budget per token high enough for a load test."""
    with tempfile.TemporaryDirectory(prefix="epu-bench-") as scratch:
        directory = data_dir or Path(scratch) / "data"
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        settings = Settings(data_dir=directory, database_url=database_url, public_base_url=base_url)
        issue_token(settings, "admin")  # makes the issuer key before the workers race to
        env = {**os.environ, "EPU_DATA_DIR": str(directory), "EPU_PUBLIC_BASE_URL": base_url,
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        if database_url:
            env["EPU_DATABASE_URL"] = database_url
        env.update(extra_env or {})
        log = open(Path(scratch) / "serve.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port),
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(base_url, process)
            yield Gateway(base_url, settings, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
            if process.returncode not in (0, -15):
                print((Path(scratch) / "serve.log").read_text()[-3000:], file=sys.stderr)


def wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting server: not a test, and bounded by the deadline
    raise RuntimeError(f"the gateway at {base_url} did not answer within {READY_TIMEOUT} s")
