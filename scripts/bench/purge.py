"""Retention rate: runs the purge on a seeded PostgreSQL database and prints rows per second.

    PYTHONPATH=. python scripts/bench/purge.py --database epu_growth_10k [--older-than-days 90] [--batch 1000]

Destructive: the purged prescriptions are gone afterwards (reseed with scripts/seed.py).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine

from app.store.purge import count_due, purge
from scripts.bench.gateway import POSTGRES_ADMIN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--older-than-days", type=int, default=90)
    parser.add_argument("--batch", type=int, default=1000)
    arguments = parser.parse_args()
    server = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(f"{server}/{arguments.database}")
    now = datetime.now(UTC)
    before = now - timedelta(days=arguments.older_than_days)
    due = count_due(engine, before, now)
    started = time.perf_counter()
    purged = purge(engine, before, now, arguments.batch)
    elapsed = time.perf_counter() - started
    rows = purged.prescriptions + purged.resources + purged.versions + purged.idempotency_records
    print(f"due {due:,}; {purged} in {elapsed:.1f} s")
    print(f"{purged.prescriptions / elapsed:,.0f} prescriptions/s, {rows / elapsed:,.0f} rows/s, "
          f"{elapsed / max(purged.batches, 1) * 1000:.0f} ms per batch of {arguments.batch}")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
