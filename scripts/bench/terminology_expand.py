"""Times ValueSet expansion with a filter on a release the size of the official JDV.

PYTHONPATH=. python scripts/make_large_jdv.py          # once, writes data/bench/...
PYTHONPATH=. python scripts/bench/terminology_expand.py [RELEASE.json] [--runs 200] [--http]

--http also imports the release into a throw-away SQLite gateway and times GET ValueSet/$expand
in process (routing, token check, JSON), which is what a prescriber's software waits for,
network aside.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.terminology.loader import parse_file

DEFAULT_RELEASE = Path("data/bench/jdv-loinc-large.json")
FILTERS = ("nfs", "hemogramme", "TSH", "glycemie a jeun")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", nargs="?", type=Path, default=DEFAULT_RELEASE)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--http", action="store_true", help="time the HTTP operation as well")
    args = parser.parse_args()
    if not args.release.exists():
        raise SystemExit(f"{args.release} is missing: run scripts/make_large_jdv.py first")
    started = time.perf_counter()
    terminology = parse_file(args.release).terminology()
    load_ms = (time.perf_counter() - started) * 1000
    print(f"{terminology.size} concepts, parsed and indexed in {load_ms:.0f} ms")
    for text in FILTERS:
        total = terminology.expand(text)[0]
        report(
            f"{text!r:20} {total:5} matches",
            args.runs,
            lambda text=text: terminology.expand(text, count=20),
        )
    if args.http:
        bench_http(args.release, args.runs)


def report(label: str, runs: int, work: Callable[[], object]) -> None:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"{label}  median {statistics.median(timings):.2f} ms  p95 {p95:.2f} ms")


def bench_http(release: Path, runs: int) -> None:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app
    from app.security.local_issuer import issue_token
    from app.store.database import create_database_engine
    from app.store.migrate import migrate
    from app.terminology.importing import import_file

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir))
        engine = create_database_engine(settings)
        migrate(engine)
        import_file(engine, release)
        engine.dispose()
        headers = {"Authorization": f"Bearer {issue_token(settings, 'lab', lab='750000001')}"}
        with TestClient(create_app(settings)) as client:
            for text in FILTERS:

                def get(text: str = text) -> None:
                    response = client.get(
                        "/fhir/ValueSet/$expand", params={"filter": text, "count": 20},
                        headers=headers,
                    )  # fmt: skip
                    response.raise_for_status()

                report(f"HTTP {text!r:15}", runs, get)


if __name__ == "__main__":
    main()
