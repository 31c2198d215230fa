"""Instructions one request costs the gateway's application: a measure the host's speed cannot move.

    PYTHONPATH=. python scripts/bench/instructions.py [--database postgres|sqlite]
        [--workloads pull,claim,done,create] [--requests 200] [--callgrind]

On this shared machine two wall-clock runs of the same code differ by 10-30%, and the host's
speed moves by a factor of two from one day to the next; an instruction count is the same run
after run. The script runs the gateway's ASGI application in its own process (no HTTP server:
uvicorn's share is the same whatever the application does), prepares what each workload needs
through the application itself (prescriptions created, then claimed), and sends each workload's
requests one at a time, as raw ASGI messages. Every answer must be 2xx.

With --callgrind it runs itself again under `valgrind --tool=callgrind` with instrumentation off,
switches it on for each workload's requests only (`callgrind_control -i on/off`), and prints the
instructions per request. Without it, it prints the wall-clock time per request, which is enough
to try the script; --profile FILE also writes a cProfile of the counted requests (read it with
`python -m pstats FILE`).
A callgrind run of 200 requests per workload takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

from app.config import Settings
from app.domain.epu_id import EPU_SYSTEM
from app.main import create_app
from app.security.local_issuer import issue_token
from scripts.bench.gateway import scratch_database
from scripts.bench.load import FHIR, PULL_QUERY, claim_parameters, five_line_bundle, sent_by

WORKLOADS = ("pull", "claim", "done", "create")
WARM_UP = 5
"""Requests of each workload sent before counting: the first of a kind fill caches."""
LAB = "750000001"
PRESCRIBER = "10101201234"
Call = Callable[[], Awaitable[object]]


class Asgi:
    """Sends one request to the application as a server would, and returns its answer."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "",
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]
            + [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the client stays connected; nothing more comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer = b"".join(chunks)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {answer[:500]!r}")
        return status, answer


@asynccontextmanager
async def running(app: FastAPI) -> Any:
    """The application's lifespan, started and stopped as a server does."""
    startup = asyncio.Queue[Message]()
    answers = asyncio.Queue[Message]()
    await startup.put({"type": "lifespan.startup"})

    async def send(message: Message) -> None:
        await answers.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                   startup.get, send))  # fmt: skip
    started = await answers.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the application did not start: {started}")
    try:
        yield
    finally:
        await startup.put({"type": "lifespan.shutdown"})
        await answers.get()
        await task


class Prepared:
    """What the workloads send, made through the application before anything is counted."""

    def __init__(self, asgi: Asgi, settings: Settings, count: int) -> None:
        self.asgi = asgi
        self.count = count
        self.lab = {"Authorization": f"Bearer {issue_token(settings, 'lab', lab=LAB)}"}
        self.prescriber = {
            "Authorization": f"Bearer {issue_token(settings, 'prescriber', rpps=PRESCRIBER)}",
            "Content-Type": FHIR,
        }
        self.bundle = five_line_bundle()
        self.epus: list[str] = []
        self.claimable: list[str] = []
        self.lines: list[tuple[dict[str, Any], int]] = []

    def create_body(self) -> bytes:
        return json.dumps(sent_by(self.bundle, PRESCRIBER, f"urn:uuid:{uuid.uuid4()}")).encode()

    async def create(self) -> str:
        _, answer = await self.asgi.request("POST", "/fhir", self.prescriber, self.create_body())
        return str(json.loads(answer)["identifier"]["value"])

    async def claim(self, epu: str) -> dict[str, Any]:
        headers = {**self.lab, "Content-Type": FHIR}
        body = json.dumps(claim_parameters(epu)).encode()
        _, answer = await self.asgi.request("POST", "/fhir/Task/$claim", headers, body)
        return json.loads(answer)  # type: ignore[no-any-return]

    async def make(self, workloads: list[str]) -> None:
        """Enough prescriptions for `count` requests of each workload (a done takes one line of a
        claimed prescription, a claim one prescription nobody holds)."""
        lines_per_prescription = 5
        claimed = -(-self.count // lines_per_prescription) if "done" in workloads else 0
        unclaimed = self.count if "claim" in workloads else 0
        for _ in range(max(claimed + unclaimed, 20)):
            self.epus.append(await self.create())
        for epu in self.epus[:claimed]:
            for entry in (await self.claim(epu))["entry"]:
                task = entry["resource"]
                line = task["resourceType"] == "Task" and "focus" in task  # not the group Task
                if line and task["status"] == "accepted":
                    self.lines.append((task, int(task["meta"]["versionId"])))
        self.claimable = self.epus[claimed:]

    def calls(self, workload: str) -> list[Call]:
        """`count` requests of `workload`, ready to send."""
        request = self.asgi.request
        if workload == "pull":
            targets = [f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epu}{PULL_QUERY}"
                       for epu in self.epus]  # fmt: skip
            return [partial(request, "GET", targets[n % len(targets)], self.lab)
                    for n in range(self.count)]  # fmt: skip
        if workload == "claim":
            return [partial(self.claim, epu) for epu in self.claimable[: self.count]]
        if workload == "done":
            return [partial(request, "PUT", f"/fhir/Task/{task['id']}", self.done_headers(version),
                            json.dumps({**task, "status": "completed"}).encode())
                    for task, version in self.lines[: self.count]]  # fmt: skip
        if workload == "create":
            return [partial(request, "POST", "/fhir", self.prescriber, self.create_body())
                    for _ in range(self.count)]  # fmt: skip
        raise ValueError(workload)

    def done_headers(self, version: int) -> dict[str, str]:
        return {**self.lab, "Content-Type": FHIR, "If-Match": f'W/"{version}"'}


PROFILER: cProfile.Profile | None = None


def counting(on: bool) -> None:
    """Switches callgrind's instrumentation of this process (when it runs under callgrind), or
    the profiler of --profile."""
    if PROFILER is not None:
        PROFILER.enable() if on else PROFILER.disable()
    if os.environ.get("EPU_UNDER_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, capture_output=True)  # fmt: skip


async def measure(settings: Settings, workloads: list[str], count: int) -> dict[str, float]:
    """Seconds per request of each workload (under callgrind, the counted region)."""
    app = create_app(settings)
    seconds: dict[str, float] = {}
    async with running(app):
        prepared = Prepared(Asgi(app), settings, count + WARM_UP)
        await prepared.make(workloads)
        for workload in workloads:
            calls = prepared.calls(workload)
            for call in calls[:WARM_UP]:
                await call()
            calls = calls[WARM_UP:]
            counting(True)
            started = time.perf_counter()
            for call in calls:
                await call()
            elapsed = time.perf_counter() - started
            counting(False)
            seconds[workload] = elapsed / len(calls)
            if os.environ.get("EPU_UNDER_CALLGRIND"):  # for run_under_callgrind, its parent
                print(f"@@ {workload} {len(calls)}", flush=True)
    return seconds


def run_here(database: str, workloads: list[str], count: int) -> dict[str, float]:
    import uvloop

    with (
        tempfile.TemporaryDirectory(prefix="epu-instructions-") as scratch,
        scratch_database(database) as url,
    ):
        settings = Settings(
            data_dir=Path(scratch), database_url=url, public_base_url="http://127.0.0.1:8000",
            token_request_budget_per_minute=10**9,
        )  # fmt: skip
        return uvloop.run(measure(settings, workloads, count))


def run_under_callgrind(database: str, workloads: list[str], count: int) -> None:
    """Each workload in a process of its own under callgrind: its counted region alone."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    print(f"{'workload':<10}{'db':<10}{'requests':>9}{'instructions/request':>22}")
    for workload in workloads:
        with tempfile.TemporaryDirectory(prefix="epu-callgrind-") as scratch:
            out = Path(scratch) / "callgrind.out"
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                       f"--callgrind-out-file={out}", sys.executable, __file__,
                       "--database", database, "--workloads", workload,
                       "--requests", str(count)]  # fmt: skip
            env = {**os.environ, "EPU_UNDER_CALLGRIND": "1", "PYTHONHASHSEED": "0"}
            finished = subprocess.run(command, env=env, capture_output=True, text=True)
            if finished.returncode != 0:
                raise SystemExit(finished.stdout[-2000:] + finished.stderr[-3000:])
            sent = next(int(line.split()[2]) for line in finished.stdout.splitlines()
                        if line.startswith(f"@@ {workload} "))  # fmt: skip
            totals = next(line for line in out.read_text().splitlines()
                          if line.startswith("totals:"))  # fmt: skip
            per_request = int(totals.split()[1]) / sent
            print(f"{workload:<10}{database:<10}{sent:>9}{per_request / 1e6:>20.3f} M", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the counted requests")
    arguments = parser.parse_args()
    workloads = arguments.workloads.split(",")
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
    if arguments.callgrind:
        run_under_callgrind(arguments.database, workloads, arguments.requests)
        return
    global PROFILER
    PROFILER = cProfile.Profile() if arguments.profile else None
    seconds = run_here(arguments.database, workloads, arguments.requests)
    if PROFILER is not None:
        PROFILER.dump_stats(arguments.profile)
    if not os.environ.get("EPU_UNDER_CALLGRIND"):
        for workload, per_request in seconds.items():
            print(f"{workload:<10}{arguments.database:<10}{per_request * 1000:>8.3f} ms/request")


if __name__ == "__main__":
    main()
