"""The real gateway in a subprocess on a free loopback port, for the tests that need separate
processes: several instances on one database, a browser driving the reception page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gateway_process(
    settings: dict[str, str],
    log: Path,
    port: int | None = None,
    ready_within: float = 60,
    workers: int = 0,
) -> Iterator[str]:
    """Run `uvicorn app.main:create_app` (or, with `workers`, `epu serve --workers N`: a
    supervisor handing connections round robin) with these EPU_* variables (and no others from
    the environment); yields its base URL once /health answers, and stops it afterwards."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_gateway(settings, log, port, workers)
    try:
        wait_ready(url, process, log, ready_within)
        if workers:
            _wait_workers(workers, process, log, ready_within)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()


def start_gateway(
    settings: dict[str, str], log: Path, port: int, workers: int = 0
) -> subprocess.Popen[bytes]:
    """The gateway's process, started (not yet answering): `uvicorn app.main:create_app`, or
    with `workers`, `epu serve --workers N`, with these EPU_* variables and no others."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EPU_")}
    env |= {"PYTHONPATH": str(ROOT), **settings}
    command = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--no-server-header",
    ] if not workers else [
        sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)


def _wait_workers(count: int, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    """Until the supervisor has logged each worker serving."""
    deadline = time.monotonic() + seconds
    while log.read_text().count(" serving") < count:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not all start: {log.read_text()[-2000:]}")
        time.sleep(0.1)  # polling a starting server, bounded by the deadline


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the gateway exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting server, bounded by the deadline
    raise RuntimeError(f"the gateway at {url} did not answer /health within {seconds} s")
