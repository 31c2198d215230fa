"""Retention rate: runs the purge on a seeded PostgreSQL database and prints rows per second, and
the latency of pulls sent meanwhile (one at a time, of prescriptions the purge keeps) against
the same pulls before it, to show that the purge does not hold traffic up.

    PYTHONPATH=. python scripts/bench/purge.py --database epu_growth_10k [--older-than-days 90] [--batch 1000]

Destructive: the purged prescriptions are gone afterwards (reseed with scripts/seed.py).
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from sqlalchemy import create_engine

from app.domain.epu_id import EPU_SYSTEM
from app.store.purge import count_due, purge
from scripts.bench.gateway import database_url, running_gateway
from scripts.bench.growth import percentiles
from scripts.bench.load import GATEWAY_ENV, PULL_QUERY

KEPT_SAMPLE = 500
BASELINE_PULLS = 500


def _latencies(samples: list[float]) -> str:
    return f"{len(samples)} pulls, {percentiles(samples)}, max {max(samples) * 1000:.1f} ms"


class Puller:
    """Pulls kept prescriptions one after another, from a thread, until told to stop."""

    def __init__(self, client: httpx.Client, headers: dict[str, str], epus: list[str]) -> None:
        self._client, self._headers, self._epus = client, headers, epus
        self._stop = threading.Event()
        self.samples: list[float] = []
        self.failures = 0
        self._thread = threading.Thread(target=self._run)

    def pull(self, n: int) -> None:
        started = time.perf_counter()
        answer = self._client.get(
            f"/fhir/ServiceRequest?requisition={EPU_SYSTEM}|{self._epus[n % len(self._epus)]}"
            f"{PULL_QUERY}",
            headers=self._headers,
        )
        self.samples.append(time.perf_counter() - started)
        self.failures += answer.status_code != 200

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            self.pull(n)
            n += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--older-than-days", type=int, default=90)
    parser.add_argument("--batch", type=int, default=1000)
    arguments = parser.parse_args()
    url = database_url(arguments.database)
    engine = create_engine(url)
    now = datetime.now(UTC)
    before = now - timedelta(days=arguments.older_than_days)
    due = count_due(engine, before, now)
    with psycopg.connect(database_url(arguments.database, driver="postgresql")) as connection:
        kept = [row[0] for row in connection.execute(
            "SELECT epu FROM prescriptions WHERE status IN ('requested', 'accepted', "
            "'in-progress') AND expires_at > now() ORDER BY random() LIMIT %s", (KEPT_SAMPLE,))]  # fmt: skip

    with (
        running_gateway(url, workers=1, extra_env=GATEWAY_ENV) as gateway,
        httpx.Client(base_url=gateway.base_url, timeout=30) as client,
    ):
        lab = {"Authorization": f"Bearer {gateway.token('lab', lab='750000001')}"}
        puller = Puller(client, lab, kept)
        for n in range(BASELINE_PULLS):
            puller.pull(n)
        baseline, puller.samples = puller.samples, []
        puller.start()
        started = time.perf_counter()
        purged = purge(engine, before, now, arguments.batch)
        elapsed = time.perf_counter() - started
        puller.stop()

    rows = purged.prescriptions + purged.resources + purged.versions + purged.idempotency_records
    print(f"due {due:,}; {purged} in {elapsed:.1f} s")
    print(f"{purged.prescriptions / elapsed:,.0f} prescriptions/s, {rows / elapsed:,.0f} rows/s, "
          f"{elapsed / max(purged.batches, 1) * 1000:.0f} ms per batch of {arguments.batch}")  # fmt: skip
    print(f"pulls before the purge: {_latencies(baseline)}")
    print(f"pulls during the purge: {_latencies(puller.samples)}, {puller.failures} not 200")
    engine.dispose()
    if puller.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
