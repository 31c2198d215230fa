"""Bulk-fills a PostgreSQL database with prescriptions in the real stored shape, for growth
and retention measurements.

    PYTHONPATH=. python scripts/seed.py --database-url postgresql://postgres@127.0.0.1/epu_growth \
        [--count 1000000] [--batch 2000] [--max-minutes 15]

One real prescription (1 Patient, 1 Practitioner, 1 Observation, 5 ServiceRequests) is created
by the gateway's own code in a scratch SQLite; its stored rows are the template. Each seeded
prescription copies them with new ids, EPU and prescriber, 1 to 8 lines (lines past the fifth are
copies of the fifth), a status written into its Tasks, and its times (every time the template
wrote at its creation: meta.lastUpdated, Task.lastModified, AuditEvent.recorded). Every seeded
resource is at its version 1: `resource_versions`, which keeps superseded versions, stays empty.

The set looks like a base in service for 18 months:
- Prescriptions are written in the order they were created, a constant flow over the 18 months,
  so the newest rows lie in the newest pages, as in a base that received them one by one.
- A status follows age (STATUS_BY_AGE): most of a day-old prescription is still to be taken
  to a lab, most of a month-old one is completed, and a few are never taken to any lab and stay
  `requested` past their expiry. The last update comes after creation by what the status took.
- A prescriber has about 1,800 prescriptions (`--prescribers` defaults to count / 1,800: France's
  120 million a year from about 100,000 prescribers, over 18 months), so 10k and 1M compare the
  same prescriber's list.

Speed comes from doing the per-row work once: each (status, line count) pair is compiled into
binary COPY data with holes for the ids, EPU, RPPS and times, so a prescription is three
`bytes % values`, made by a thread while PostgreSQL loads the batch before. Into empty tables
everything goes in one transaction: it truncates them (so that COPY FREEZE may skip the later
hint-bit rewrite of every page), drops their indexes but the resources' primary key, which
receives ids in order, loads, and builds the indexes again from their own definitions, so the schema ends as
the migrations made it; stopped halfway, it leaves the tables as they were. Into tables that
already hold rows, it only adds them. Either way it ends with VACUUM (ANALYZE), as autovacuum
would after a bulk load: index-only scans then read no table page.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import struct
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import create_engine

from app.config import Settings
from app.domain import epu_id
from app.main import create_app
from app.security.local_issuer import issue_token
from app.store.migrate import migrate

PRESCRIPTIONS_PER_PRESCRIBER = 1_800
TEMPLATE_RPPS = "10101201234"
STATUSES = ("requested", "accepted", "in-progress", "completed", "cancelled")
STATUS_BY_AGE = (
    # up to this age in days: the share of each status, in the order of STATUSES
    (2, (0.55, 0.15, 0.20, 0.07, 0.03)),
    (14, (0.20, 0.03, 0.12, 0.58, 0.07)),
    (90, (0.10, 0.00, 0.02, 0.80, 0.08)),
    (None, (0.08, 0.00, 0.00, 0.83, 0.09)),  # `requested` past a year: expired, never taken
)
SETTLING_DAYS = {"requested": 0, "accepted": 2, "in-progress": 3, "completed": 14, "cancelled": 14}
"""At most how many days after its creation a prescription of that status was last updated."""
MAX_LINES = 8
SPREAD = timedelta(days=548)
MICROSECOND = timedelta(microseconds=1)
POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNIX_TO_POSTGRES = 946_684_800  # seconds from 1970-01-01 to 2000-01-01

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
TABLES = {
    "prescriptions": "epu, prescriber_rpps, status, group_task_id, authored_on, expires_at, "
    "rounds_total, round, created_at, last_updated, version",
    "resources": "resource_type, id, version_id, last_updated, epu, status, body",
    "idempotency_records": "key, content_hash, epu, response, created_at",
}

# Their ids start with the serial, so rows come in key order: keeping them costs less than
# building them again from 14 million rows.
KEPT_WHILE_LOADING = ("resources_pkey",)
Connection = psycopg.Connection[tuple[object, ...]]

# A hole is named by a str and filled by bytes of the length given here (any other hole is a
# resource id); the constant parts are bytes.
Part = bytes | str
HOLE_LENGTHS = {"epu": 18, "rpps": 11, "stamp": 24, "updated": 8, "created": 8, "expires": 8,
                "key": 11 + len("|urn:uuid:") + 36, "hash": 32}  # fmt: skip
ID_LENGTH = 26  # serial (10 hex), position (4 hex), random tail (12 hex)


@dataclass
class Template:
    epu: str
    group_task_id: str
    stamp: str
    """The template's creation time as written in its bodies (meta.lastUpdated and the like)."""
    rows: list[tuple[str, str, str | None, bytes]]  # type, id, status, body
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
    rows = [(t, i, s, bytes(b)) for t, i, s, b in found]
    stamp = orjson.loads(rows[0][3])["meta"]["lastUpdated"]
    return Template(epu, group, stamp, rows, bytes(idempotency))


def _text(value: str | bytes) -> bytes:
    """A field of binary COPY that is the same for every prescription."""
    data = value.encode() if isinstance(value, str) else value
    return struct.pack(">i", len(data)) + data


def _length(hole: str) -> int:
    return HOLE_LENGTHS.get(hole, ID_LENGTH)


def _hole(name: str) -> list[Part]:
    """A field of binary COPY filled per prescription."""
    return [struct.pack(">i", _length(name)), name]


def _holes(body: bytes, names: dict[str, str]) -> list[Part]:
    """`body` as a field of binary COPY, cut around each occurrence of a key of `names`, which
    becomes the hole it names."""
    pattern = "(" + "|".join(re.escape(old) for old in names) + ")"
    pieces = re.split(pattern.encode(), body)
    parts = [names[p.decode()] if n % 2 else p for n, p in enumerate(pieces)]
    size = sum(len(p) if isinstance(p, bytes) else _length(p) for p in parts)
    return [struct.pack(">i", size), *parts]


def _format(parts: list[Part]) -> bytes:
    """The parts as one `bytes % values` format."""
    return b"".join(
        p.replace(b"%", b"%%") if isinstance(p, bytes) else b"%(" + p.encode() + b")s"
        for p in parts
    )


def _fields(count: int) -> bytes:
    return struct.pack(">h", count)


ONE = struct.pack(">ii", 4, 1)
NULL = struct.pack(">i", -1)


class Formats:
    """The template compiled into binary COPY formats, per table and (status, line count)."""

    def __init__(self, template: Template) -> None:
        lines = [r for r in template.rows if r[0] == "ServiceRequest"]
        tasks = [r for r in template.rows if r[0] == "Task"]
        group = next(r for r in tasks if r[1] == template.group_task_id)
        others = [r for r in template.rows if r[0] not in ("ServiceRequest", "Task")]
        self.fixed = [(r, f"other{n}") for n, r in enumerate(others)] + [(group, "group")]
        self.common = {template.epu: "epu", TEMPLATE_RPPS: "rpps", template.stamp: "stamp",
                       **{r[1]: hole for r, hole in self.fixed}}  # fmt: skip
        line_task = {line[1]: next(t for t in tasks if b"ServiceRequest/" + line[1].encode() in t[3])
                     for line in lines}  # fmt: skip
        copied = [lines[min(n, len(lines) - 1)] for n in range(MAX_LINES)]
        self.copies = [(line, line_task[line[1]]) for line in copied]
        ids = [hole for _, hole in self.fixed] + [f"{kind}{n}" for n in range(MAX_LINES)
                                                  for kind in ("line", "task")]  # fmt: skip
        self.ids = [(hole.encode(), b"%04x" % n) for n, hole in enumerate(ids)]
        self.prescriptions = {status: _format(self._prescription(status)) for status in STATUSES}
        self.resources: dict[tuple[str, int], bytes] = {}
        for status in STATUSES:
            for count in range(1, MAX_LINES + 1):
                self.resources[status, count] = _format(self._resources(status, count))
        # The stored response is the template's own, as before: a seeded key is never replayed.
        self.idempotency = _format([_fields(5), *_hole("key"), *_hole("hash"), *_hole("epu"),
                                    _text(template.idempotency), *_hole("created")])  # fmt: skip

    def _prescription(self, status: str) -> list[Part]:
        return [_fields(11), *_hole("epu"), *_hole("rpps"), _text(status), *_hole("group"),
                *_hole("created"), *_hole("expires"), ONE, ONE, *_hole("created"),
                *_hole("updated"), ONE]  # fmt: skip

    def _resources(self, status: str, count: int) -> list[Part]:
        """The `resources` rows of one prescription: the fixed resources, then each line's
        ServiceRequest and Task (whose focus is its own line's copy). Each is at its version 1,
        so none has a superseded version in `resource_versions`."""
        rows = [(row, hole, self.common) for row, hole in self.fixed]
        for n, (line, task) in enumerate(self.copies[:count]):
            names = {**self.common, line[1]: f"line{n}", task[1]: f"task{n}"}
            rows += [(line, f"line{n}", names), (task, f"task{n}", names)]
        current: list[Part] = []
        for (resource_type, _, row_status, body), hole, names in rows:
            if resource_type == "Task":
                body = body.replace(b'"status":"requested"', b'"status":"%s"' % status.encode())
                row_status = status
            kind, filled = _text(resource_type), _holes(body, names)
            state = NULL if row_status is None else _text(row_status)
            current += [_fields(7), kind, *_hole(hole), ONE, *_hole("updated"), *_hole("epu"),
                        state, *filled]  # fmt: skip
        return current


def status_at(age_days: float) -> str:
    """A status drawn from the shares of prescriptions of that age."""
    shares = next(s for most, s in STATUS_BY_AGE if most is None or age_days <= most)
    return random.choices(STATUSES, shares)[0]


@dataclass
class Batch:
    """Binary COPY data (no header, no trailer) for each table."""

    count: int
    rows: dict[str, bytes]


def rpps_numbers(count: int) -> list[bytes]:
    return [f"{10_000_000_000 + n * 7919:011d}".encode() for n in range(count)]


@dataclass
class Flow:
    """Prescriptions created one after another at a constant rate over SPREAD, the last one now;
    times in microseconds from PostgreSQL's epoch."""

    end_serial: int
    step_us: float
    now_us: int

    @classmethod
    def ending_now(cls, first_serial: int, count: int) -> Flow:
        now_us = (datetime.now(UTC) - POSTGRES_EPOCH) // MICROSECOND
        return cls(first_serial + count, SPREAD / MICROSECOND / count, now_us)

    def created_us(self, serial: int) -> int:
        """When that prescription was created: the greater the serial, the later."""
        return self.now_us - int((self.end_serial - serial - random.random()) * self.step_us)


def make_batch(
    formats: Formats, flow: Flow, first_serial: int, count: int, prescribers: list[bytes]
) -> Batch:
    now_us = flow.now_us
    day_us, year_us = timedelta(days=1) // MICROSECOND, timedelta(days=365) // MICROSECOND
    prescriptions, resources, idempotency = [], [], []
    for serial in range(first_serial, first_serial + count):
        created = flow.created_us(serial)
        status = status_at((now_us - created) / day_us)
        settled = min(now_us - created, SETTLING_DAYS[status] * day_us)
        updated = created + int(settled * random.random())
        updated -= updated % 1000  # bodies say milliseconds
        seconds, micros = divmod(updated, 1_000_000)
        clock = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds + UNIX_TO_POSTGRES))
        prefix, tail = b"%010x" % serial, os.urandom(6).hex().encode()
        values = {hole: prefix + position + tail for hole, position in formats.ids}
        values[b"epu"] = epu_id.generate().encode()
        values[b"rpps"] = rpps = random.choice(prescribers)
        values[b"stamp"] = b"%s.%03dZ" % (clock.encode(), micros // 1000)
        values[b"updated"] = struct.pack(">q", updated)
        values[b"created"] = struct.pack(">q", created)
        values[b"expires"] = struct.pack(">q", created + year_us)
        values[b"key"] = b"%s|urn:uuid:%s" % (rpps, str(uuid.uuid4()).encode())
        values[b"hash"] = uuid.uuid4().hex.encode()
        lines = random.randint(1, MAX_LINES)
        prescriptions.append(formats.prescriptions[status] % values)
        resources.append(formats.resources[status, lines] % values)
        idempotency.append(formats.idempotency % values)
    return Batch(count, {"prescriptions": b"".join(prescriptions),
                         "resources": b"".join(resources),
                         "idempotency_records": b"".join(idempotency)})  # fmt: skip


def batches(
    template: Template, first_serial: int, count: int, size: int, prescribers: int
) -> Iterator[Batch]:
    """Batches of `size` prescriptions, each made by a thread while PostgreSQL loads the one
    before (most of that wait is outside the GIL)."""
    formats, numbers = Formats(template), rpps_numbers(prescribers)
    flow = Flow.ending_now(first_serial, count)
    with ThreadPoolExecutor(1) as maker:
        ahead: deque[Future[Batch]] = deque()
        for start in range(first_serial, first_serial + count, size):
            ahead.append(maker.submit(make_batch, formats, flow, start,
                                      min(size, first_serial + count - start), numbers))  # fmt: skip
            if len(ahead) > 1:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _is_empty(connection: Connection) -> bool:
    return not any(connection.execute(f"SELECT EXISTS (SELECT FROM {t})").fetchone()[0]  # type: ignore[index]
                   for t in TABLES)  # fmt: skip


def _drop_indexes(connection: Connection) -> list[str]:
    """Drops the seeded tables' indexes (primary keys too, but those in KEPT_WHILE_LOADING);
    returns the statements that make them again as they were."""
    keys = {str(name): str(statement) for name, statement in connection.execute(
        "SELECT c.conname, format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, c.conname, "
        "pg_get_constraintdef(c.oid)) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE c.contype = 'p' AND t.relname = ANY(%s) "
        "AND t.relnamespace = current_schema()::regnamespace", (list(TABLES),))}  # fmt: skip
    indexes = connection.execute(
        "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY(%s) AND indexname <> ALL(%s) ORDER BY tablename, indexname",
        (list(TABLES), list(KEPT_WHILE_LOADING))).fetchall()  # fmt: skip
    remake = []
    for name, table, definition in ((str(n), str(t), str(d)) for n, t, d in indexes):
        if name in keys:
            connection.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)))  # fmt: skip
            remake.append(keys[name])
        else:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            remake.append(definition)
    return remake


def _copy(connection: Connection, batch: Batch, freeze: bool) -> None:
    options = "FORMAT binary, FREEZE" if freeze else "FORMAT binary"
    with connection.cursor() as cursor:
        for table, columns in TABLES.items():
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH ({options})") as copying:
                copying.write(COPY_HEADER)
                copying.write(batch.rows[table])
                copying.write(COPY_TRAILER)


def seed(
    url: str, count: int, batch: int, max_seconds: float, prescribers: int | None = None
) -> int:
    """Adds up to `count` prescriptions in one transaction; returns how many went in before the
    time ran out."""
    started = time.monotonic()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    migrate(engine)
    engine.dispose()
    template = make_template()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '1GB'")
        offset = connection.execute("SELECT count(*) FROM prescriptions").fetchone()[0]  # type: ignore[index]
        fresh = _is_empty(connection)
        remake: list[str] = []
        if fresh:
            # COPY FREEZE needs the tables emptied in the loading transaction.
            connection.execute(f"TRUNCATE {', '.join(TABLES)}")
            remake = _drop_indexes(connection)
        done = 0
        loading = previous = time.monotonic()
        prescribers = prescribers or max(1, round(count / PRESCRIPTIONS_PER_PRESCRIBER))
        for made in batches(template, offset, count, batch, prescribers):
            _copy(connection, made, fresh)
            done += made.count
            now = time.monotonic()
            print(f"  seeded {offset + done:,} prescriptions ({done / (now - loading):,.0f}/s "
                  f"overall, {made.count / (now - previous):,.0f}/s this batch)", flush=True)  # fmt: skip
            previous = now
            if now - started > max_seconds:
                break
        for statement in remake:
            connection.execute(statement)
            print(f"  {statement} ({time.monotonic() - previous:.0f} s)", flush=True)
            previous = time.monotonic()
        connection.commit()
        # VACUUM as well as ANALYZE: it sets the visibility map, as autovacuum soon does after a
        # bulk load. Without it the prescriber's list, an index-only scan, still visits a heap
        # page per row it returns, which a database in service does not.
        connection.autocommit = True
        connection.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        connection.autocommit = False
        print(f"  VACUUM (ANALYZE) ({time.monotonic() - previous:.0f} s)", flush=True)
    print(f"{time.monotonic() - started:.0f} s in all, {done / (time.monotonic() - started):,.0f} "
          "prescriptions/s", flush=True)  # fmt: skip
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--prescribers", type=int, default=None,
                        help="how many prescribers share the prescriptions (default: count / 1,800)")  # fmt: skip
    parser.add_argument("--max-minutes", type=float, default=15.0,
                        help="stop adding batches after this long (indexes are built after)")  # fmt: skip
    arguments = parser.parse_args()
    added = seed(arguments.database_url, arguments.count, arguments.batch,
                 arguments.max_minutes * 60, arguments.prescribers)  # fmt: skip
    print(f"added {added:,} prescriptions")


if __name__ == "__main__":
    main()
