"""Load on a running gateway: requests per second and latency of the hot workloads.

    PYTHONPATH=. python scripts/bench/load.py [--database sqlite|postgres] [--workers 2]
        [--duration 10] [--concurrency 1,16]
        [--workloads create,pull,claim,done,done-together,scan]

It starts the gateway itself (`epu serve` on a free loopback port; for PostgreSQL in a scratch
database it creates and drops), with a request budget per token far above what the load sends
(an operator setting, EPU_TOKEN_REQUEST_BUDGET_PER_MINUTE; the default would answer 429). Then
it runs each workload at each concurrency for a fixed time (whole seconds) and prints one row
per run: req/s, p50 and p99 of the requests' latencies in ms, and errors (answers that are not
2xx, socket errors, timeouts). It exits non-zero if any request failed.

The load comes from `wrk` (apt-get install wrk), which costs the machine far less CPU than a
Python client would: this script prepares each run's requests from what the database holds,
and wrk replays them (scripts/bench/wrk_runner.py, wrk_replay.lua), one connection per unit of
concurrency, each sending its next request when the answer to the last one is in.

Workloads: create (1 Patient, 1 Practitioner, 5 ServiceRequests, 1 Observation), pull by
requisition with _include/_revinclude, claim (each on a prescription nobody holds yet), done
(PUT a claimed line to `completed` with If-Match, lines of different prescriptions in flight
together), done-together (the same, the five lines of a prescription in flight together) and
scan (a JPEG photo of the QR). Claim and the dones consume what earlier runs made: before each
of their runs the script tops that up, untimed (`stock_up`), so that the run lasts its time; if
the pool still ran out, the run would stop early and its rate be over the time it ran.
"""

from __future__ import annotations

import argparse
import copy
import io
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter
from sqlalchemy import Engine, create_engine, text

from app.domain.epu_id import EPU_SYSTEM
from app.qr.encode import qr_png
from scripts.bench.cpu_time import CpuMeter, CpuUse
from scripts.bench.gateway import ROOT, Gateway, running_gateway, scratch_database
from scripts.bench.wrk_runner import UNIQUE_ID, Outcome, Request, require_wrk, run_wrk

EXAMPLES = ROOT / "fhir_profiles" / "examples"
FHIR = "application/fhir+json"
PRESCRIBERS = [f"1010{n:07d}" for n in range(1, 21)]
LABS = ["750000001", "690000002", "130000003", "330000004"]
MAX_DURATION = 120
PULL_QUERY = (
    "&_include=ServiceRequest:requester&_include=ServiceRequest:subject"
    "&_revinclude=Task:focus&_revinclude=Provenance:target"
)
GATEWAY_ENV = {"EPU_TOKEN_REQUEST_BUDGET_PER_MINUTE": str(10**9)}
CONSUMED = {"claim", "done", "done-together"}
"""Workloads whose requests can each be sent once only."""
STOCK_PER_SECOND = {"claim": 1500, "done": 2500, "done-together": 2500}
"""What a consumed workload's run is given to send, a second of its time: above any rate seen."""
LINES = 5
"""Lines of a created prescription (five_line_bundle)."""
PHOTOS = 20
WRK_THREADS = 1
"""wrk threads: at 16 connections one and two gave the gateway the same throughput (within the
noise of a shared 2-core machine) and wrk used about 0.1 ms of CPU per request either way; one
thread is one busy loop fewer competing with the gateway for the cores."""


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


def sent_by(bundle: dict[str, Any], rpps: str, identifier: str) -> dict[str, Any]:
    """A copy of `bundle` as the prescriber of that RPPS sends it (its Practitioner), with that
    Bundle.identifier, the request's idempotency key."""
    sent = copy.deepcopy(bundle)
    sent["identifier"] = {"system": "urn:ietf:rfc:3986", "value": identifier}
    for entry in sent["entry"]:
        if entry["resource"]["resourceType"] == "Practitioner":
            entry["resource"]["identifier"][0]["value"] = f"8{rpps}"
    return sent


def claim_parameters(epu: str) -> dict[str, Any]:
    """The body of a $claim of that EPU."""
    return {"resourceType": "Parameters", "parameter": [
        {"name": "epu", "valueIdentifier": {"system": EPU_SYSTEM, "value": epu}}]}  # fmt: skip


def photo_of(epu: str) -> bytes:
    """The printed QR in a larger, slightly blurred, rotated JPEG, as a desk webcam takes it."""
    code = Image.open(io.BytesIO(qr_png(epu, scale=6))).convert("L")
    page = Image.new("L", (1280, 960), 235)
    page.paste(code.rotate(5, expand=True, fillcolor=235), (400, 300))
    buffer = io.BytesIO()
    page.filter(ImageFilter.GaussianBlur(1.0)).save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


def as_json(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


class Workloads:
    """Each workload's requests, made from what the gateway's database holds when it starts."""

    def __init__(self, gateway: Gateway) -> None:
        self.cpu = CpuMeter(gateway.pid)
        self.database = create_engine(gateway.settings.sqlalchemy_url)
        self.bundle = five_line_bundle()
        self.prescriber_tokens = {
            rpps: f"Bearer {gateway.token('prescriber', rpps=rpps)}" for rpps in PRESCRIBERS
        }
        self.lab_tokens = {lab: f"Bearer {gateway.token('lab', lab=lab)}" for lab in LABS}
        self.photos: list[bytes] = []
        self.taken: set[str] = set()
        """EPUs and Tasks that claim and done runs may have sent: a request wrk had in flight when
        it stopped may still land after the run, so the database alone cannot tell."""

    def requests(self, workload: str) -> list[Request]:
        return getattr(self, "_" + workload.replace("-", "_"))()  # type: ignore[no-any-return]

    def left(self, workload: str) -> int:
        """How many requests a claim or done run could still send, counted without making
        them: prescriptions nobody holds, or accepted lines."""
        listed = unclaimed_epus if workload == "claim" else accepted_line_ids
        return sum(1 for key in listed(self.database) if key not in self.taken)

    def record(self, outcome: Outcome) -> None:
        self.taken.update(request.uses for request in outcome.taken if request.uses)

    def _create(self) -> list[Request]:
        """One per prescriber (its RPPS in the Practitioner); wrk gives each a new identifier."""
        requests = []
        for rpps, token in self.prescriber_tokens.items():
            bundle = sent_by(self.bundle, rpps, f"urn:uuid:{UNIQUE_ID}")
            headers = {"Authorization": token, "Content-Type": FHIR}
            requests.append(Request("POST", "/fhir", headers, as_json(bundle)))
        return requests

    def _lab(self, number: int) -> dict[str, str]:
        return {"Authorization": self.lab_tokens[LABS[number % len(LABS)]]}

    def _pull(self) -> list[Request]:
        return [
            Request(
                "GET",
                f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epu}{PULL_QUERY}",
                self._lab(number),
            )
            for number, epu in enumerate(created_epus(self.database))
        ]

    def _claim(self) -> list[Request]:
        requests = []
        epus = [epu for epu in unclaimed_epus(self.database) if epu not in self.taken]
        for number, epu in enumerate(epus):
            body = as_json(claim_parameters(epu))
            headers = {**self._lab(number), "Content-Type": FHIR}
            requests.append(Request("POST", "/fhir/Task/$claim", headers, body, epu))
        return requests

    def _done(self) -> list[Request]:
        """Each accepted line, PUT back as `completed` by the lab that holds it, in turns across
        the prescriptions (a first line of each, then a second...): the requests in flight
        together are lines of different prescriptions, as from many labs at once."""
        by_prescription: dict[str, list[Request]] = {}
        for request, epu in self._done_requests():
            by_prescription.setdefault(epu, []).append(request)
        turns = itertools.zip_longest(*by_prescription.values())
        return [request for turn in turns for request in turn if request is not None]

    def _done_together(self) -> list[Request]:
        """The same, the lines of one prescription one after the other: at concurrency 16 the
        five lines of three prescriptions are in flight together, and queue on their locks (a
        lab's software sending a whole report's lines at once)."""
        return [request for request, _ in self._done_requests()]

    def _done_requests(self) -> list[tuple[Request, str]]:
        requests = []
        for task, version, lab, epu in accepted_lines(self.database):
            if task["id"] in self.taken:
                continue
            headers = {"Authorization": self.lab_tokens[lab], "Content-Type": FHIR,
                       "If-Match": f'W/"{version}"'}  # fmt: skip
            body = as_json({**task, "status": "completed"})
            path = f"/fhir/Task/{task['id']}"
            requests.append((Request("PUT", path, headers, body, task["id"]), epu))
        return requests

    def _scan(self) -> list[Request]:
        if not self.photos:
            self.photos = [photo_of(epu) for epu in created_epus(self.database)[:PHOTOS]]
        return [
            Request(
                "POST", "/fhir/$scan", {**self._lab(number), "Content-Type": "image/jpeg"}, photo
            )
            for number, photo in enumerate(self.photos)
        ]


def created_epus(database: Engine) -> list[str]:
    with database.connect() as connection:
        return list(connection.scalars(text("SELECT epu FROM prescriptions ORDER BY created_at")))


def unclaimed_epus(database: Engine) -> list[str]:
    with database.connect() as connection:
        return list(connection.scalars(text(
            "SELECT epu FROM prescriptions WHERE owner_lab IS NULL AND status = 'requested' "
            "ORDER BY created_at")))  # fmt: skip


_ACCEPTED_LINES = (
    "FROM resources r JOIN prescriptions p ON p.epu = r.epu "
    "WHERE r.resource_type = 'Task' AND r.status = 'accepted' "
    "AND r.id <> p.group_task_id AND p.owner_lab IS NOT NULL ORDER BY r.id"
)


def accepted_line_ids(database: Engine) -> list[str]:
    with database.connect() as connection:
        return list(connection.scalars(text("SELECT r.id " + _ACCEPTED_LINES)))


def accepted_lines(database: Engine) -> list[tuple[dict[str, Any], int, str, str]]:
    """(Task, its version, the lab holding it, its EPU) of every line Task still `accepted`, in
    creation order."""
    with database.connect() as connection:
        rows = connection.execute(
            text("SELECT r.body, r.version_id, p.owner_lab, p.epu " + _ACCEPTED_LINES)
        )
        return [(json.loads(body), int(version), str(lab), str(epu))
                for body, version, lab, epu in rows]  # fmt: skip


@dataclass
class Result:
    workload: str
    concurrency: int
    outcome: Outcome
    cpu: CpuUse

    def row(self, database: str) -> str:
        o = self.outcome
        return (f"{self.workload:<14}{database:<13}{self.concurrency:>5}{o.rate:>10.1f}"
                f"{o.p50_ms:>9.1f}{o.p99_ms:>9.1f}{o.errors:>8}{o.requests:>9}"
                f"  {self.cpu.per_request_ms(o.requests):<16}{self.cpu.cores(o.seconds):>6}")  # fmt: skip


HEADER = (f"{'workload':<14}{'db':<13}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'requests':>9}  CPU ms/request: gateway/postgres/wrk, cores busy")  # fmt: skip


def stock_up(workloads: Workloads, base_url: str, workload: str, seconds: int) -> None:
    """Before a claim or a done run, enough for it to last its time (untimed, unprinted):
    prescriptions nobody holds for a claim run, claimed lines for a done run. Without it, a run
    after a slow one could find its pool short, or empty."""
    if workload not in CONSUMED:
        return
    if workload == "claim":
        _stock_unclaimed(workloads, base_url, seconds * STOCK_PER_SECOND["claim"])
        return
    missing_lines = seconds * STOCK_PER_SECOND[workload] - workloads.left("done")
    if missing_lines > 0:
        prescriptions = -(-missing_lines // LINES)
        _stock_unclaimed(workloads, base_url, prescriptions)
        claims = workloads.requests("claim")[:prescriptions]
        workloads.record(run_wrk(base_url, claims, 16, WRK_THREADS, MAX_DURATION, once=True))


def _stock_unclaimed(workloads: Workloads, base_url: str, wanted: int) -> None:
    creates = workloads.requests("create")
    while workloads.left("claim") < wanted:
        run_wrk(base_url, creates, 16, WRK_THREADS, 2, once=False)


def run(workloads: Workloads, base_url: str, workload: str, concurrency: int,
        seconds: int) -> Result:  # fmt: skip
    stock_up(workloads, base_url, workload, seconds)
    requests = workloads.requests(workload)
    if not requests:
        print(f"  {workload}: nothing to send (run create first)")
        nothing = Outcome(requests=0, seconds=0.0, p50_ms=0.0, p99_ms=0.0, errors=0)
        return Result(workload, concurrency, nothing, CpuUse(0.0, 0.0, 0.0))
    workloads.cpu.start()
    outcome = run_wrk(base_url, requests, concurrency, WRK_THREADS, seconds, workload in CONSUMED)
    cpu = workloads.cpu.stop()
    workloads.record(outcome)
    for sample in outcome.failure_samples:
        print(f"  {workload}: {sample}")
    return Result(workload, concurrency, outcome, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 SQLite, 2 PostgreSQL")
    parser.add_argument(
        "--duration", type=float, default=10.0, help=f"seconds per run, <= {MAX_DURATION}"
    )
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--workloads", default="create,pull,claim,done,done-together,scan")
    arguments = parser.parse_args()
    require_wrk()
    seconds = round(min(max(arguments.duration, 1.0), MAX_DURATION))
    workers = arguments.workers or (2 if arguments.database == "postgres" else 1)
    levels = [int(level) for level in arguments.concurrency.split(",")]
    names = arguments.workloads.split(",")
    label = f"{arguments.database}/{workers}w"
    failed = False
    with (
        scratch_database(arguments.database) as url,
        running_gateway(url, workers, extra_env=GATEWAY_ENV) as gateway,
    ):
        workloads = Workloads(gateway)
        # A few prescriptions before anything is timed: first-use costs stay out of the numbers.
        failed = run(workloads, gateway.base_url, "create", 4, 2).outcome.errors > 0
        print(HEADER)
        for name in names:
            for level in levels:
                result = run(workloads, gateway.base_url, name, level, seconds)
                failed = failed or result.outcome.errors > 0
                print(result.row(label), flush=True)
        workloads.database.dispose()
    if failed:
        raise SystemExit("some requests failed (errors > 0)")


if __name__ == "__main__":
    main()
