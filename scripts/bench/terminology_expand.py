"""Times ValueSet expansion with a filter on a release the size of the official JDV.

PYTHONPATH=. python scripts/make_large_jdv.py          # once, writes data/bench/...
PYTHONPATH=. python scripts/bench/terminology_expand.py [RELEASE.json] [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from app.terminology.loader import parse_file

DEFAULT_RELEASE = Path("data/bench/jdv-loinc-large.json")
FILTERS = ("nfs", "hemogramme", "TSH", "glycemie a jeun")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", nargs="?", type=Path, default=DEFAULT_RELEASE)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if not args.release.exists():
        raise SystemExit(f"{args.release} is missing: run scripts/make_large_jdv.py first")
    started = time.perf_counter()
    terminology = parse_file(args.release).terminology()
    load_ms = (time.perf_counter() - started) * 1000
    print(f"{terminology.size} concepts, parsed and indexed in {load_ms:.0f} ms")
    for text in FILTERS:
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            total, _page = terminology.expand(text, count=20)
            timings.append((time.perf_counter() - started) * 1000)
        p95 = statistics.quantiles(timings, n=20)[-1]
        median = statistics.median(timings)
        print(f"{text!r:20} {total:5} matches  median {median:.2f} ms  p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
