"""The instruction-count benchmark's driver works: it prepares its prescriptions through the
application and sends each workload's requests as a server would, every answer a success (it
raises on any other). The counting itself needs valgrind and minutes; this checks what it runs."""

from __future__ import annotations

from scripts.bench.instructions import WORKLOADS, run_here


def test_every_workload_of_the_instruction_count_runs_through_the_application() -> None:
    seconds = run_here("sqlite", list(WORKLOADS), count=3)

    assert set(seconds) == set(WORKLOADS)
    assert all(per_request > 0 for per_request in seconds.values())
