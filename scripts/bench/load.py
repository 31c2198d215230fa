"""Load on a running gateway: requests per second and latency of the hot workloads.

    PYTHONPATH=. python scripts/bench/load.py [--database sqlite|postgres] [--workers 2]
        [--duration 10] [--concurrency 1,16] [--workloads create,pull,claim,done,scan]

It starts the gateway itself (`epu serve` on a free loopback port; for PostgreSQL in a scratch
database it creates and drops), then runs each workload at each concurrency for a fixed time and
prints one row per run: req/s, p50 and p99 in ms, and errors (answers that are not 2xx).

Workloads: create (1 Patient, 1 Practitioner, 5 ServiceRequests, 1 Observation), pull by
requisition with _include/_revinclude, claim (each on a prescription nobody holds yet), done
(PUT a claimed line to `completed` with If-Match) and scan (a JPEG photo of the QR). Claim and
done consume what earlier runs made; when that pool runs out the run stops early and its
rate is over the time it actually ran.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import io
import itertools
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image, ImageFilter

from app.domain.epu_id import EPU_SYSTEM
from app.qr.encode import qr_png
from scripts.bench.gateway import ROOT, Gateway, running_gateway, scratch_database

EXAMPLES = ROOT / "fhir_profiles" / "examples"
FHIR = "application/fhir+json"
PRESCRIBERS = [f"1010{n:07d}" for n in range(1, 21)]
LABS = ["750000001", "690000002", "130000003", "330000004"]
MAX_DURATION = 120.0
PULL_QUERY = (
    "&_include=ServiceRequest:requester&_include=ServiceRequest:subject"
    "&_revinclude=Task:focus&_revinclude=Provenance:target"
)


def five_line_bundle() -> dict[str, Any]:
    """The prolactine example (Patient, Practitioner, Observation, 3 lines) plus two lines."""
    bundle: dict[str, Any] = json.loads(
        (EXAMPLES / "Bundle-prescription-prolactine.json").read_text()
    )
    template = next(
        e
        for e in bundle["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "3016-3"
    )
    for code, display in (("1558-6", "Glycémie à jeun"), ("24331-1", "Bilan lipidique")):
        entry = copy.deepcopy(template)
        entry["fullUrl"] = f"urn:uuid:{uuid.uuid4()}"
        entry["resource"]["code"] = {
            "coding": [{"system": "http://loinc.org", "code": code, "display": display}]
        }
        bundle["entry"].append(entry)
    return bundle


def photo_of(epu: str) -> bytes:
    """The printed QR in a larger, slightly blurred, rotated JPEG, as a desk webcam takes it."""
    code = Image.open(io.BytesIO(qr_png(epu, scale=6))).convert("L")
    page = Image.new("L", (1280, 960), 235)
    page.paste(code.rotate(5, expand=True, fillcolor=235), (400, 300))
    buffer = io.BytesIO()
    page.filter(ImageFilter.GaussianBlur(1.0)).save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


@dataclass
class Pools:
    """What the runs hand on: created prescriptions (with their author), claimed lines."""

    created: list[tuple[str, str]] = field(default_factory=list)
    unclaimed: list[tuple[str, str]] = field(default_factory=list)
    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    photos: list[bytes] = field(default_factory=list)


class Exhausted(Exception):
    """The run's pool of prepared work is empty."""


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


class Workloads:
    def __init__(self, gateway: Gateway) -> None:
        self.pools = Pools()
        self.bundle = five_line_bundle()
        self.prescriber_headers = {
            rpps: {"Authorization": f"Bearer {gateway.token('prescriber', rpps=rpps)}"}
            for rpps in PRESCRIBERS
        }
        self.lab_headers = {
            lab: {"Authorization": f"Bearer {gateway.token('lab', lab=lab)}"} for lab in LABS
        }
        self._counter = itertools.count()

    def next_request(self, workload: str) -> Request:
        return getattr(self, f"_{workload}")()  # type: ignore[no-any-return]

    def _create(self) -> Request:
        rpps = PRESCRIBERS[next(self._counter) % len(PRESCRIBERS)]
        bundle = copy.deepcopy(self.bundle)
        bundle["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Practitioner":
                entry["resource"]["identifier"][0]["value"] = f"8{rpps}"
        body = json.dumps(bundle).encode()
        headers = {**self.prescriber_headers[rpps], "Content-Type": FHIR}

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            response = await client.post("/fhir", content=body, headers=headers)
            if response.status_code == 201:
                epu = response.json()["identifier"]["value"]
                self.pools.created.append((epu, rpps))
                self.pools.unclaimed.append((epu, rpps))
            return response

        return send

    def _lab(self) -> dict[str, str]:
        return self.lab_headers[LABS[next(self._counter) % len(LABS)]]

    def _pull(self) -> Request:
        epu, _ = self.pools.created[next(self._counter) % len(self.pools.created)]
        url = f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epu}{PULL_QUERY}"
        headers = self._lab()
        return lambda client: client.get(url, headers=headers)

    def _claim(self) -> Request:
        if not self.pools.unclaimed:
            raise Exhausted
        epu, _ = self.pools.unclaimed.pop()
        lab = LABS[next(self._counter) % len(LABS)]
        body = json.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "epu", "valueIdentifier": {"system": EPU_SYSTEM, "value": epu}}]}).encode()  # fmt: skip
        headers = {**self.lab_headers[lab], "Content-Type": FHIR}

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            response = await client.post("/fhir/Task/$claim", content=body, headers=headers)
            if response.status_code == 200:
                for entry in response.json()["entry"]:
                    task = entry["resource"]
                    if task["resourceType"] == "Task" and "focus" in task:
                        self.pools.lines.append((lab, task))
            return response

        return send

    def _done(self) -> Request:
        if not self.pools.lines:
            raise Exhausted
        lab, task = self.pools.lines.pop()
        body = json.dumps({**task, "status": "completed"}).encode()
        headers = {**self.lab_headers[lab], "Content-Type": FHIR,
                   "If-Match": f'W/"{task["meta"]["versionId"]}"'}  # fmt: skip
        return lambda client: client.put(f"/fhir/Task/{task['id']}", content=body, headers=headers)

    def _scan(self) -> Request:
        if not self.pools.photos:
            self.pools.photos = [photo_of(epu) for epu, _ in self.pools.created[:20]]
        photo = self.pools.photos[next(self._counter) % len(self.pools.photos)]
        headers = {**self._lab(), "Content-Type": "image/jpeg"}
        return lambda client: client.post("/fhir/$scan", content=photo, headers=headers)


@dataclass
class Result:
    workload: str
    concurrency: int
    latencies: list[float]
    errors: int
    elapsed: float

    def row(self, database: str) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        rate = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        return (f"{self.workload:<8}{database:<10}{self.concurrency:>5}{rate:>10.1f}{p50:>9.1f}"
                f"{p99:>9.1f}{self.errors:>8}{len(self.latencies):>9}")  # fmt: skip


HEADER = f"{'workload':<8}{'db':<10}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'requests':>9}"


async def run(workloads: Workloads, base_url: str, workload: str, concurrency: int,
              duration: float) -> Result:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                send = workloads.next_request(workload)
            except Exhausted:
                return
            started = time.perf_counter()
            try:
                response = await send(client)
                ok = 200 <= response.status_code < 300
                if not ok and errors < 3:
                    print(f"  {workload}: {response.status_code} {response.text[:300]}")
            except httpx.HTTPError as failure:
                ok = False
                print(f"  {workload}: {failure!r}")
            latencies.append(time.perf_counter() - started)
            errors += not ok

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(workload, concurrency, latencies, errors, elapsed)


async def warm_up(workloads: Workloads, base_url: str) -> None:
    """A few prescriptions before anything is timed: first-use costs stay out of the numbers."""
    await run(workloads, base_url, "create", 4, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 SQLite, 2 PostgreSQL")
    parser.add_argument(
        "--duration", type=float, default=10.0, help=f"seconds per run, <= {MAX_DURATION}"
    )
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--workloads", default="create,pull,claim,done,scan")
    arguments = parser.parse_args()
    duration = min(max(arguments.duration, 1.0), MAX_DURATION)
    workers = arguments.workers or (2 if arguments.database == "postgres" else 1)
    levels = [int(level) for level in arguments.concurrency.split(",")]
    names = arguments.workloads.split(",")
    label = f"{arguments.database}/{workers}w"
    results: list[Result] = []
    with scratch_database(arguments.database) as url, running_gateway(url, workers) as gateway:
        workloads = Workloads(gateway)
        asyncio.run(warm_up(workloads, gateway.base_url))
        print(HEADER)
        for name in names:
            for level in levels:
                result = asyncio.run(run(workloads, gateway.base_url, name, level, duration))
                results.append(result)
                print(result.row(label), flush=True)
    if any(result.errors for result in results):
        raise SystemExit("some requests failed (errors > 0)")


if __name__ == "__main__":
    main()
