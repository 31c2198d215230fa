"""Runs `wrk` on a list of prepared HTTP requests and reads back rate, latency and errors.

wrk (C, LuaJIT) makes the load instead of a Python client: on a 2-core machine a Python load
generator takes CPU the gateway under test needs. The requests are written to a data file that
`wrk_replay.lua` loads into each wrk thread; that script also times each request and counts the
answers that are not 2xx (see it for the file format and what it reports).
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPLAY_SCRIPT = Path(__file__).with_name("wrk_replay.lua")
UNIQUE_ID = "00000000-0000-4000-8000-0000000000ff"
"""Replaced by a fresh UUID each time wrk sends the request (see wrk_replay.lua)."""
TIMEOUT = "30s"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | bytes | None = None
    """Text goes inline in the data file; bytes (a photo) go to a file of their own."""
    uses: str | None = None
    """What the request uses up, when it can be sent once only (the EPU a claim takes...)."""


@dataclass
class Outcome:
    requests: int
    seconds: float
    """Time the run did useful work: all of it, or until every thread finished its requests."""
    p50_ms: float
    p99_ms: float
    errors: int
    """Answers that were not 2xx, plus socket errors and timeouts."""
    failure_samples: list[str] = field(default_factory=list)
    taken: list[Request] = field(default_factory=list)
    """Requests a "once" run handed out: sent, though some may land after wrk stopped."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return found


def run_wrk(
    base_url: str,
    requests: list[Request],
    connections: int,
    threads: int,
    seconds: int,
    once: bool,
) -> Outcome:
    """`requests` sent over `connections` for `seconds`: round and round, or each `once`."""
    threads = max(1, min(threads, connections, len(requests)))
    with tempfile.TemporaryDirectory(prefix="epu-wrk-") as scratch:
        directory = Path(scratch)
        write_requests(directory, requests)
        command = [
            require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
            f"--timeout={TIMEOUT}", "-s", str(REPLAY_SCRIPT), base_url, "--", str(directory),
            str(threads), "once" if once else "cycle", secrets.token_hex(4), UNIQUE_ID,
        ]  # fmt: skip
        output = run_until_finished(command, threads)
        latencies = [int(us) / 1000 for us in (directory / "latencies.txt").read_text().split()]
    outcome = read_outcome(output, latencies)
    handed_out = {
        int(thread): int(count)
        for thread, count in re.findall(r"^bench: handed_out (\d+) (\d+)", output, re.M)
    }
    # Thread t had requests t, t + threads, t + 2 * threads... and handed out the first ones.
    outcome.taken = [
        request
        for number, request in enumerate(requests)
        if number // threads < handed_out[number % threads]
    ]
    return outcome


def write_requests(directory: Path, requests: list[Request]) -> None:
    lines = []
    for number, request in enumerate(requests):
        if isinstance(request.body, bytes):
            body = f"@body-{number}.bin"
            (directory / body[1:]).write_bytes(request.body)
        elif request.body is not None and request.body.startswith("@"):
            raise ValueError(f"{request.method} {request.path}: a text body cannot start with @")
        else:
            body = request.body or ""
        fields = [request.method, request.path, body]
        fields += [f"{name}: {value}" for name, value in request.headers.items()]
        if any("\t" in field or "\n" in field for field in fields):
            raise ValueError(f"{request.method} {request.path} does not fit on one line")
        lines.append("\t".join(fields))
    (directory / "requests.tsv").write_text("\n".join(lines) + "\n")


def run_until_finished(command: list[str], threads: int) -> str:
    """wrk's output. wrk sleeps its whole duration even when every thread has stopped, so once
    each thread said it finished its requests, SIGINT (wrk's own way to stop early) ends it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    finished = 0
    for line in process.stdout:
        lines.append(line)
        if line.startswith("bench: finished"):
            finished += 1
            if finished == threads:
                process.send_signal(signal.SIGINT)
    if process.wait() != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{''.join(lines)}")
    return "".join(lines)


def read_outcome(output: str, latencies: list[float]) -> Outcome:
    """The outcome from wrk's report, the script's "bench:" lines and the latencies in ms."""
    completed = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.M)
    failures = re.search(r"^bench: failures (\d+)", output, re.M)
    if completed is None or failures is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    busy = re.search(r"^bench: busy_us (\d+)", output, re.M)
    seconds = int(busy[1]) / 1e6 if busy else float(completed[2]) * UNITS_MS[completed[3]] / 1000
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    ordered = sorted(latencies) or [0.0]
    return Outcome(
        requests=int(completed[1]),
        seconds=seconds,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        errors=int(failures[1]) + (sum(int(n) for n in sockets.groups()) if sockets else 0),
        failure_samples=re.findall(r"^bench: failure (.*)$", output, re.M),
    )
