"""`epu serve --workers N`: connections go round robin to the workers, a dead worker is
replaced, a worker that cannot start stops the gateway, and SIGTERM stops it all."""

from __future__ import annotations

import os
import resource
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway_process import free_port, start_gateway, wait_ready

HEALTH = b"GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n"


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]


def _start(tmp_path: Path, **settings: str) -> Served:
    port = free_port()
    environment = {"EPU_DATA_DIR": str(tmp_path / "data"), **settings}
    process = start_gateway(environment, tmp_path / "serve.log", port, workers=2)
    return Served(f"http://127.0.0.1:{port}", port, process)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    gateway = _start(tmp_path)
    try:
        wait_ready(gateway.url, gateway.process, tmp_path / "serve.log", 60)
        _until(lambda: _running(gateway, tmp_path / "serve.log") and _both_serve(gateway))
        yield gateway
    finally:
        gateway.process.terminate()
        gateway.process.wait(timeout=40)


def _workers(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children]


def _connections_held(pid: int, port: int) -> int:
    """Established TCP connections to `port` whose descriptors `pid` holds."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            established.add(f"socket:[{fields[9]}]")
    held = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held += os.readlink(descriptor) in established
        except OSError:  # closed meanwhile
            continue
    return held


def _running(gateway: Served, log: Path) -> bool:
    if gateway.process.poll() is not None:
        raise RuntimeError(f"the gateway exited with {gateway.process.returncode}: "
                           f"{log.read_text()[-2000:]}")  # fmt: skip
    return True


def _both_serve(gateway: Served) -> bool:
    """Two connections opened in a row went to different workers: both have started (one still
    starting is handed connections only when none serves)."""
    pair = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(2)]
    try:
        for connection in pair:
            _answered(connection)
        held = [_connections_held(pid, gateway.port) for pid in _workers(gateway.process.pid)]
        return held == [1, 1]
    finally:
        for connection in pair:
            connection.close()


def _answered(connection: socket.socket) -> bytes:
    connection.sendall(HEALTH)
    return connection.recv(65536)


def _until(condition: object, seconds: float = 30) -> None:
    """Polls a process's state, bounded by a deadline."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("not reached within the deadline")
        time.sleep(0.05)


def _opened_together(port: int, count: int) -> list[socket.socket]:
    """Connections opened at once, as a load test or a proxy's pool opens them (one at a time,
    uvicorn's shared socket balanced them more often)."""
    connections = [socket.socket() for _ in range(count)]
    for connection in connections:
        connection.setblocking(False)
        connection.connect_ex(("127.0.0.1", port))
    for connection in connections:
        select.select([], [connection], [], 10)
        connection.setblocking(True)
    return connections


def test_connections_opened_together_are_shared_equally(served: Served) -> None:
    workers = _workers(served.process.pid)
    assert len(workers) == 2
    for _ in range(3):  # uvicorn's own workers split a burst evenly once in five
        connections = _opened_together(served.port, 16)
        try:
            for connection in connections:
                assert _answered(connection).startswith(b"HTTP/1.1 200")
            assert [_connections_held(pid, served.port) for pid in workers] == [8, 8]
        finally:
            for connection in connections:
                connection.close()


def test_a_worker_that_dies_is_replaced(served: Served) -> None:
    first, second = _workers(served.process.pid)
    os.kill(first, signal.SIGKILL)

    _until(lambda: first not in _workers(served.process.pid) and _both_serve(served))
    assert second in _workers(served.process.pid)
    assert httpx.get(f"{served.url}/health").status_code == 200


def test_sigterm_stops_the_supervisor_and_its_workers(served: Served) -> None:
    workers = _workers(served.process.pid)
    served.process.send_signal(signal.SIGTERM)

    assert served.process.wait(timeout=40) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # ended and reaped


def test_workers_stop_when_their_supervisor_is_killed(served: Served) -> None:
    workers = _workers(served.process.pid)
    served.process.kill()
    served.process.wait()

    _until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers))


def test_a_gateway_whose_workers_cannot_start_exits_with_their_code(tmp_path: Path) -> None:
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
    gateway = _start(tmp_path, EPU_DATABASE_URL=unreachable)
    try:
        assert gateway.process.wait(timeout=60) == 3
    finally:
        gateway.process.kill()
    log = (tmp_path / "serve.log").read_text()
    assert "could not start the application" in log


def test_out_of_descriptors_the_supervisor_waits_then_serves_what_queued(
    served: Served, tmp_path: Path
) -> None:
    supervisor = served.process.pid
    _, hard = resource.prlimit(supervisor, resource.RLIMIT_NOFILE)
    in_use = {int(entry.name) for entry in Path(f"/proc/{supervisor}/fd").iterdir()}
    lowest_free = min(set(range(len(in_use) + 1)) - in_use)  # where its next descriptor goes
    resource.prlimit(supervisor, resource.RLIMIT_NOFILE, (lowest_free, hard))
    log = tmp_path / "serve.log"
    try:
        waiting = socket.create_connection(("127.0.0.1", served.port))
        waiting.sendall(HEALTH)

        _until(lambda: log.read_text().count("accept failed") >= 2)
        # Each failure pauses accepting for half a second: a loop retrying at once would have
        # written thousands by now.
        assert log.read_text().count("accept failed") <= 3
    finally:
        resource.prlimit(supervisor, resource.RLIMIT_NOFILE, (hard, hard))
    waiting.settimeout(30)
    assert waiting.recv(65536).startswith(b"HTTP/1.1 200")
    waiting.close()
