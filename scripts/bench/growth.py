"""Latency as the database grows: pull, claim and the prescriber's status list on a seeded
PostgreSQL database, the plans of the queries behind them, and bytes stored per prescription.

    PYTHONPATH=. python scripts/seed.py --database-url postgresql://postgres@127.0.0.1/epu_growth_10k --count 10000
    PYTHONPATH=. python scripts/bench/growth.py --database epu_growth_10k [--requests 300]

Requests go one at a time (latency, not throughput) to a gateway started on that database.
- Pull and claim go to what a lab receives: prescriptions still to be taken, the newest first
  (the patient comes to the lab within days), drawn at random among the newest, the claimed
  ones apart from the pulled ones. "pull, any age" pulls prescriptions drawn from the whole set
  instead: most are months old and, once the tables outgrow the memory, read from disk.
- The prescriber's list runs twice over the same prescribers: the first pass reads its Task
  pages from wherever they are, the second finds them cached, as for a prescriber's software
  that polls its list. The seed gives a prescriber the same number of prescriptions at any size,
  so that 10k and 1M compare the same page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import httpx
import psycopg

from app.domain.epu_id import EPU_SYSTEM
from scripts.bench.gateway import database_url, running_gateway
from scripts.bench.load import GATEWAY_ENV, PULL_QUERY

TABLES = ("prescriptions", "resources", "resource_versions", "idempotency_records")
LABS = ["750000001", "690000002"]


def percentiles(samples: list[float]) -> str:
    """p50 and p99 of latencies in seconds, as milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"


def _timed(count: int, request: Callable[[int], httpx.Response]) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        response = request(n)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:300]}")
    return samples


def _explain(connection: psycopg.Connection[tuple[object, ...]], title: str, sql: str,
             parameters: tuple[object, ...]) -> None:  # fmt: skip
    print(f"\n-- {title}\n{sql}")
    for (line,) in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", parameters):
        print(f"   {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database seeded by scripts/seed.py")
    parser.add_argument("--requests", type=int, default=300)
    arguments = parser.parse_args()
    plain = database_url(arguments.database, driver="postgresql")
    with psycopg.connect(plain) as connection:
        count = connection.execute("SELECT count(*) FROM prescriptions").fetchone()[0]  # type: ignore[index]
        stored = sum(connection.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0]  # type: ignore[index]
                     for t in TABLES)  # fmt: skip
        any_age = [r[0] for r in connection.execute(
            "SELECT epu FROM prescriptions ORDER BY random() LIMIT %s", (arguments.requests,))]  # fmt: skip
        newest = [r[0] for r in connection.execute(
            "SELECT epu FROM prescriptions WHERE status = 'requested' AND expires_at > now() "
            "ORDER BY created_at DESC LIMIT %s", (2 * arguments.requests,))]  # fmt: skip
        random.shuffle(newest)
        epus, to_claim = newest[::2], newest[1::2]
        prescribers = [r[0] for r in connection.execute(
            "SELECT prescriber_rpps FROM prescriptions ORDER BY random() LIMIT %s",
            (arguments.requests,))]  # fmt: skip
    print(
        f"{arguments.database}: {count:,} prescriptions, {stored / 2**20:,.0f} MiB in "
        f"{', '.join(TABLES)}, {stored / max(count, 1):,.0f} bytes per prescription"
    )

    url = database_url(arguments.database)
    with (
        running_gateway(url, workers=1, extra_env=GATEWAY_ENV) as gateway,
        httpx.Client(base_url=gateway.base_url, timeout=30) as client,
    ):
        lab = {"Authorization": f"Bearer {gateway.token('lab', lab=LABS[0])}"}
        tokens = {rpps: {"Authorization": f"Bearer {gateway.token('prescriber', rpps=rpps)}"}
                  for rpps in set(prescribers)}  # fmt: skip
        claim_headers = {**lab, "Content-Type": "application/fhir+json"}
        _timed(
            20,
            lambda n: client.get(
                f"/fhir/ServiceRequest?requisition={epus[n % len(epus)]}", headers=lab
            ),
        )

        def pull(epus: list[str]) -> Callable[[int], httpx.Response]:
            return lambda n: client.get(
                f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{epus[n]}{PULL_QUERY}", headers=lab)  # fmt: skip

        pulls = _timed(len(epus), pull(epus))
        pulls_any_age = _timed(len(any_age), pull(any_age))
        claims = _timed(len(to_claim), lambda n: client.post("/fhir/Task/$claim", headers=claim_headers, json={
            "resourceType": "Parameters", "parameter": [{"name": "epu", "valueString": to_claim[n]}]}))  # fmt: skip

        def prescriber_list(n: int) -> httpx.Response:
            return client.get("/fhir/Task?status=requested,accepted,in-progress&_count=50",
                              headers=tokens[prescribers[n]])  # fmt: skip

        lists = _timed(len(prescribers), prescriber_list)
        # The same lists again: their Task pages are now in PostgreSQL's cache, as they are for a
        # prescriber's software that polls its list.
        lists_again = _timed(len(prescribers), prescriber_list)
    print(f"pull    ({len(pulls)}): {percentiles(pulls)}")
    print(f"pull, any age ({len(pulls_any_age)}): {percentiles(pulls_any_age)}")
    print(f"claim   ({len(claims)}): {percentiles(claims)}")
    print(f"list    ({len(lists)}): {percentiles(lists)}")
    print(f"list again ({len(lists_again)}): {percentiles(lists_again)}")

    with psycopg.connect(plain) as connection:
        epu, rpps = epus[0], prescribers[0]
        _explain(connection, "find the prescription (pull, claim)",
                 "SELECT * FROM prescriptions WHERE epu = %s", (epu,))  # fmt: skip
        _explain(connection, "its resources (pull, claim)",
                 "SELECT resource_type, id, version_id, body FROM resources WHERE epu = %s AND "
                 "resource_type IN ('ServiceRequest','Observation','Condition','Practitioner',"
                 "'PractitionerRole','Organization','Patient','Task','Provenance') ORDER BY id", (epu,))  # fmt: skip
        _explain(connection, "the prescriber's list",
                 "SELECT group_task_id FROM prescriptions WHERE prescriber_rpps = %s AND status IN "
                 "('requested','accepted','in-progress') ORDER BY last_updated DESC LIMIT 51", (rpps,))  # fmt: skip
        _explain(connection, "purge: what is due",
                 "SELECT epu FROM prescriptions WHERE (status IN ('completed','cancelled') OR "
                 "expires_at < now()) AND last_updated < now() - interval '90 days' LIMIT 1000", ())  # fmt: skip


if __name__ == "__main__":
    main()
