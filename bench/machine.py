"""The machine a benchmark runs on: what a report says of it, and where its CPU went
(Linux /proc; None elsewhere): the whole machine, the server's process group and each of
its workers, Postgres, and the load generator. Used by bench.throughput and bench.run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.serve import REPO, RunningServer

BUSY_WARNING = 10.0  # percent of all CPUs used by others before the run


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit() -> str | None:
    """`git rev-parse --short HEAD`, with `-dirty` when tracked files differ from it."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if changes else commit


def machine() -> dict[str, Any]:
    """What a report says of where and what it ran: python, cpu_count, git_commit, date."""
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
    }


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all CPUs since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(values[3:5])  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICK, total / _TICK


@dataclass(frozen=True, slots=True)
class _Process:
    ppid: int
    pgrp: int
    cpu: float  # user + system seconds


def _processes() -> dict[int, _Process]:
    """The live processes (Linux /proc; empty elsewhere)."""
    found: dict[int, _Process] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
            cpu = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
            found[int(entry.name)] = _Process(ppid=int(fields[1]), pgrp=int(fields[2]), cpu=cpu)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")).decode()
    except (OSError, UnicodeDecodeError):
        return ""


def _established(port: int) -> set[int]:
    """Socket inodes of the established TCP connections whose local port is `port`."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def _connections(pid: int, inodes: set[int]) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    count += 1
    return count


def _ours(title: str, database: str | None) -> bool:
    """Whether a postmaster child counts as ours: every child of a server we started
    (`database` None); on a shared server, the client backends of our database and the
    server's own background processes, not the backends of other databases (another
    job's tests). A backend's title is `postgres: <user> <database> <host> <state>`."""
    if database is None:
        return True
    parts = title.split()
    backend = len(parts) >= 4 and ("(" in parts[3] or parts[3] == "[local]")
    return not backend or parts[2] == database


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds so far: the whole machine (busy, total over all CPUs), the server's
    process group (all uvicorn workers), each worker, Postgres (see `_ours`) and this
    process (the load generator)."""

    machine_busy: float | None
    machine_total: float | None
    server: float | None
    postgres: float | None
    client: float
    workers: dict[int, tuple[float, int]]  # pid: (CPU seconds, client connections)


def machine_busy(interval: float = 1.0) -> float | None:
    """Percent of all CPUs busy over `interval` seconds (other work skews the figures)."""
    before = _machine_cpu()
    time.sleep(interval)
    after = _machine_cpu()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def cpu_snapshot(running: RunningServer) -> CpuSnapshot:
    """The machine, the server's process group, each worker (CPU and client connections;
    with one worker `siao serve` itself serves, with more its multiprocessing children),
    Postgres (the postmaster and the children `_ours` keeps)."""
    machine = _machine_cpu()
    processes = _processes()
    group = {pid: p for pid, p in processes.items() if p.pgrp == running.pgid}
    workers = [pid for pid in group if "spawn_main" in _cmdline(pid)]
    if running.workers == 1 or not workers:
        workers = [running.pgid] if running.pgid in group else list(group)
    inodes = _established(running.port)
    postgres: float | None = None
    postmaster = running.db.postmaster
    if postmaster is not None and postmaster in processes:
        postgres = sum(
            p.cpu
            for pid, p in processes.items()
            if pid == postmaster or (p.ppid == postmaster and _ours(_cmdline(pid), running.db.name))
        )
    return CpuSnapshot(
        machine_busy=machine[0] if machine else None,
        machine_total=machine[1] if machine else None,
        server=sum(p.cpu for p in group.values()) if group else None,
        postgres=postgres,
        client=time.process_time(),
        workers={pid: (group[pid].cpu, _connections(pid, inodes)) for pid in sorted(workers)},
    )
