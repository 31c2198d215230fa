"""Bulk-fills a PostgreSQL database with prescriptions in the real stored shape, for growth
and retention measurements.

    PYTHONPATH=. python scripts/seed.py --database-url postgresql://postgres@127.0.0.1/epu_growth \
        [--count 1000000] [--batch 5000] [--max-minutes 15]

One real prescription (1 Patient, 1 Practitioner, 1 Observation, 5 ServiceRequests) is created
by the gateway's own code in a scratch SQLite; its stored rows are the template. Each seeded
prescription copies them with new ids, EPU and prescriber (one of 5,000), 1 to 8 lines (lines
past the fifth are copies of the fifth), a status from a realistic mix written into its Tasks,
and a last update spread over 18 months. Rows go in with COPY, one transaction per batch.
"""

from __future__ import annotations

import argparse
import copy
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.config import Settings
from app.domain import epu_id
from app.main import create_app
from app.security.local_issuer import issue_token
from app.store.migrate import migrate

PRESCRIBERS = [f"{10_000_000_000 + n * 7919:011d}" for n in range(5_000)]
TEMPLATE_RPPS = "10101201234"
STATUSES = (("requested", 0.25), ("accepted", 0.10), ("in-progress", 0.10),
            ("completed", 0.45), ("cancelled", 0.10))  # fmt: skip
SPREAD = timedelta(days=548)


@dataclass
class Template:
    epu: str
    group_task_id: str
    rows: list[tuple[str, str, str | None, dict[str, object]]]  # type, id, status, resource
    idempotency: bytes


def make_template() -> Template:
    """One prescription created through the API, read back as stored."""
    from scripts.bench.load import five_line_bundle

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch))
        with TestClient(create_app(settings)) as client:
            bundle = five_line_bundle()
            token = issue_token(settings, "prescriber", rpps=TEMPLATE_RPPS)
            response = client.post("/fhir", json=bundle, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})  # fmt: skip
            assert response.status_code == 201, response.text
            epu = response.json()["identifier"]["value"]
            engine = client.app.state.engine  # type: ignore[attr-defined]
            with engine.connect() as connection:
                group = connection.exec_driver_sql(
                    "SELECT group_task_id FROM prescriptions WHERE epu = ?", (epu,)).scalar_one()  # fmt: skip
                found = connection.exec_driver_sql(
                    "SELECT resource_type, id, status, body FROM resources WHERE epu = ? ORDER BY id",
                    (epu,)).all()  # fmt: skip
                idempotency = connection.exec_driver_sql(
                    "SELECT response FROM idempotency_records WHERE epu = ?", (epu,)).scalar_one()  # fmt: skip
    rows = [(t, i, s, orjson.loads(b)) for t, i, s, b in found]
    return Template(epu, group, rows, idempotency)


def _status() -> str:
    pick, total = random.random(), 0.0
    for status, share in STATUSES:
        total += share
        if pick < total:
            return status
    return STATUSES[-1][0]


class Seeder:
    def __init__(self, template: Template) -> None:
        self.template = template
        lines = [r for r in template.rows if r[0] == "ServiceRequest"]
        self.line_tasks = {
            r[3]["focus"]["reference"].split("/")[1]: r  # type: ignore[index]
            for r in template.rows if r[0] == "Task" and "focus" in r[3]
        }  # fmt: skip
        self.lines = lines
        self.others = [r for r in template.rows if r[0] not in ("ServiceRequest", "Task")]
        self.group = next(r for r in template.rows if r[1] == template.group_task_id)
        self.now = datetime.now(UTC)

    def prescription(
        self, serial: int
    ) -> tuple[tuple[object, ...], list[tuple[object, ...]], tuple[object, ...]]:
        epu = epu_id.generate()
        rpps = random.choice(PRESCRIBERS)
        status = _status()
        updated = self.now - SPREAD * random.random()
        created = updated - timedelta(days=random.random() * 10)
        count = random.randint(1, 8)
        chosen = [self.lines[min(n, len(self.lines) - 1)] for n in range(count)]
        line_copies = [(sr, self.line_tasks[sr[1]]) for sr in chosen]
        tail = uuid.uuid4().hex[:12]
        fresh = iter(f"{serial:010x}{n:04x}{tail}" for n in range(64))
        ids = {row[1]: next(fresh) for row in [*self.others, self.group]}
        rows: list[tuple[str, str, str | None, dict[str, object]]] = []
        for row in [*self.others, self.group]:
            rows.append((row[0], ids[row[1]], row[2], row[3]))
        for sr, task in line_copies:
            sr_id, task_id = next(fresh), next(fresh)
            ids.setdefault(sr[1], sr_id)  # references to the template line point at its first copy
            rows.append((sr[0], sr_id, sr[2], sr[3]))
            task_resource = copy.deepcopy(task[3])
            task_resource["focus"] = {"reference": f"ServiceRequest/{sr_id}"}
            rows.append(("Task", task_id, status, task_resource))
        resources = []
        stamp = updated.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for resource_type, new_id, row_status, resource in rows:
            meta = {**resource.get("meta", {}), "lastUpdated": stamp}  # type: ignore[dict-item]
            body = orjson.dumps({**resource, "id": new_id, "meta": meta})
            for old, new in ids.items():
                body = body.replace(old.encode(), new.encode())
            body = body.replace(self.template.epu.encode(), epu.encode())
            body = body.replace(TEMPLATE_RPPS.encode(), rpps.encode())
            if resource_type == "Task":
                body = body.replace(b'"status":"requested"', f'"status":"{status}"'.encode())
            resources.append((resource_type, new_id, 1, updated, epu,
                              status if resource_type == "Task" else row_status, body))  # fmt: skip
        prescription = (epu, rpps, status, ids[self.template.group_task_id], created,
                        created + timedelta(days=365), 1, 1, created, updated, 1)  # fmt: skip
        key = f"{rpps}|urn:uuid:{uuid.uuid4()}"
        idempotency = (key, uuid.uuid4().hex, epu, self.template.idempotency, created)
        return prescription, resources, idempotency


def seed(url: str, count: int, batch: int, max_seconds: float) -> int:
    """Adds up to `count` prescriptions; returns how many went in before the time ran out."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    migrate(engine)
    engine.dispose()
    seeder = Seeder(make_template())
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    started, done = time.monotonic(), 0
    with psycopg.connect(plain) as connection:
        offset = connection.execute("SELECT count(*) FROM prescriptions").fetchone()[0]  # type: ignore[index]
        while done < count and time.monotonic() - started < max_seconds:
            made = [seeder.prescription(offset + done + n) for n in range(min(batch, count - done))]
            with connection.cursor() as cursor:
                with cursor.copy(
                    "COPY prescriptions (epu, prescriber_rpps, status, group_task_id, authored_on, expires_at, rounds_total, round, created_at, last_updated, version) FROM STDIN"
                ) as copying:
                    for prescription, _, _ in made:
                        copying.write_row(prescription)
                with cursor.copy(
                    "COPY resources (resource_type, id, version_id, last_updated, epu, status, body) FROM STDIN"
                ) as copying:
                    for _, resources, _ in made:
                        for row in resources:
                            copying.write_row(row)
                with cursor.copy(
                    "COPY resource_versions (resource_type, id, version_id, last_updated, body) FROM STDIN"
                ) as copying:
                    for _, resources, _ in made:
                        for row in resources:
                            copying.write_row((row[0], row[1], row[2], row[3], row[6]))
                with cursor.copy(
                    "COPY idempotency_records (key, content_hash, epu, response, created_at) FROM STDIN"
                ) as copying:
                    for _, _, record in made:
                        copying.write_row(record)
            connection.commit()
            done += len(made)
            rate = done / (time.monotonic() - started)
            print(f"  seeded {offset + done:,} prescriptions ({rate:,.0f}/s)", flush=True)
        connection.execute("ANALYZE")
        connection.commit()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--max-minutes", type=float, default=15.0)
    arguments = parser.parse_args()
    added = seed(
        arguments.database_url, arguments.count, arguments.batch, arguments.max_minutes * 60
    )
    print(f"added {added:,} prescriptions")


if __name__ == "__main__":
    main()
