"""CPU time spent by the gateway, PostgreSQL and the load generator while a benchmark runs, read
from /proc and getrusage (Linux).

On a 2-core machine shared by the three, requests per second say little on their own: how many
milliseconds of CPU one request costs each of them tells where the next gain is."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class CpuUse:
    gateway: float
    postgres: float
    load: float
    """Seconds of CPU: the gateway's processes, PostgreSQL's, the load generator's (wrk)."""

    def cores(self, seconds: float) -> str:
        """How many cores the three kept busy: about 2 here when the run was bound by the CPU,
        less when something left a core idle (a worker with more connections than its share)."""
        if seconds <= 0:
            return "-"
        return f"{(self.gateway + self.postgres + self.load) / seconds:.2f}"

    def per_request_ms(self, requests: int) -> str:
        if requests == 0:
            return "-"
        return "/".join(
            f"{1000 * seconds / requests:.2f}"
            for seconds in (self.gateway, self.postgres, self.load)
        )


class CpuMeter:
    """CPU used between `start()` and `stop()` by the process tree rooted at `gateway_pid`, by
    every PostgreSQL process, and by this process's children that ended in between (wrk)."""

    def __init__(self, gateway_pid: int) -> None:
        self._gateway_pid = gateway_pid
        self._before: dict[int, float] = {}
        self._children_before = 0.0

    def start(self) -> None:
        self._before = {pid: _cpu_seconds(pid) for pid in _pids()}
        self._children_before = _children_seconds()

    def stop(self) -> CpuUse:
        gateway = _tree(self._gateway_pid)
        gateway_seconds = postgres_seconds = 0.0
        for pid in _pids():
            used = _cpu_seconds(pid) - self._before.get(pid, 0.0)
            if pid in gateway:
                gateway_seconds += used
            elif _is_postgres(pid):
                postgres_seconds += used
        return CpuUse(
            gateway_seconds, postgres_seconds, _children_seconds() - self._children_before
        )


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return []
    return stat[stat.rindex(")") + 2 :].split()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process, its threads included."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND if fields else 0.0


def _tree(root: int) -> set[int]:
    parents = {pid: int(fields[1]) for pid in _pids() if (fields := _stat_fields(pid))}
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def _is_postgres(pid: int) -> bool:
    try:
        return (PROC / str(pid) / "comm").read_text().strip().startswith("postgres")
    except OSError:
        return False


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
