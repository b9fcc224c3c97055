"""Throughput of the real server on the "work list" query.

`python -m bench.throughput [--workers N] [--concurrency C] [--seconds S] [--first 50]
[--json out.json]`: prepares a database (DATABASE_URL, or an embedded server in a temp
folder, deleted at the end) with the migrations and the demo data, starts `siao serve` as
a subprocess on a free port of 127.0.0.1, mints a dev token for `siao.75@demo.siao`, then
runs C concurrent keep-alive loops that POST the query: a warm-up (not counted), then S
measured seconds. It prints (and writes as JSON) requests/s, latency percentiles, errors,
response size, the SQL cost that the server reports in dev (`extensions.sql`) and where
the CPU went during the measured window. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from auth.settings import Environment, Settings
from auth.tokens import load_or_create_dev_key, mint_dev_token
from migrations import upgrade
from models.demo import FIRST_75_REFERENCE, SIAO_LOGIN, load_demo

REPO = Path(__file__).resolve().parents[1]
LOGIN = SIAO_LOGIN["75"]  # siao.75@demo.siao: sees the 150 Paris households
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0  # seconds for `siao serve` to answer /health/ready
POLL_INTERVAL = 0.1
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STAGGER = 0.05  # seconds between the first requests of two loops (within the warm-up)
BUSY_WARNING = 10.0  # percent of all CPUs used by others before the run
OTHERS_WARNING = 15.0  # percent of one core used by other processes during the run
POSTGRES_ALLOWANCE = 25.0  # added when Postgres is not ours (DATABASE_URL): it is in "others"

QUERY = """
query WorkList($first: Int!) {
  households(first: $first) {
    totalCount
    edges {
      node {
        id reference version createdAt
        territory { code }
        members {
          relationship validFrom
          person { id firstName lastName usageName birthDate sex }
        }
        demands(first: 5) {
          totalCount
          edges { node { id kind status createdAt concernedPersons { id firstName } } }
        }
        auditEvents(first: 3) {
          edges { node { at action entityType actor { displayName } } }
        }
      }
    }
  }
}
"""


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it ended (perf_counter), how long it took, and what came back."""

    ended: float
    latency: float
    status: int  # HTTP status; 0 when the request itself failed (connection, timeout)
    size: int
    error: str | None
    sql_statements: int | None
    sql_ms: float | None


@dataclass(frozen=True, slots=True)
class Shape:
    """What one response holds (checked once, before the warm-up)."""

    households: int
    total_count: int
    leaf_fields: int


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds so far: the whole machine (busy, total over all CPUs), the server's
    process group (all uvicorn workers), each worker, the embedded Postgres (when this
    script started it) and this process (the load generator)."""

    machine_busy: float | None
    machine_total: float | None
    server: float | None
    postgres: float | None
    client: float
    workers: dict[int, tuple[float, int]]  # pid: (CPU seconds, client connections)


@dataclass
class Report:
    workers: int
    concurrency: int
    seconds: float
    warmup: float
    first: int
    python: str
    cpu_count: int | None
    git_commit: str | None
    database: str
    date: str
    busy_before_percent: float | None  # all CPUs, just before the server started
    requests: int = 0
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status: requests ("0": failed)
    error_examples: list[str] = field(default_factory=list)
    mean_response_kb: float = 0.0
    households_per_response: int = 0
    leaf_fields_per_response: int = 0
    sql_statements_min: int | None = None
    sql_statements_max: int | None = None
    sql_statements_constant: bool = False
    mean_db_ms: float | None = None
    # CPU during the measured window, in percent of ONE core (2 cores = 200 %)
    server_cpu_percent: float | None = None
    client_cpu_percent: float | None = None
    postgres_cpu_percent: float | None = None  # the embedded server only
    machine_cpu_percent: float | None = None  # everything: server, Postgres, client, others
    others_cpu_percent: float | None = None  # machine - server - Postgres - client
    server_cpu_ms_per_request: float | None = None
    postgres_cpu_ms_per_request: float | None = None
    worker_cpu_percent: list[float] = field(default_factory=list)  # each worker, % of 1 core
    worker_connections: list[int] = field(default_factory=list)  # at the end of the window


# --- helpers -----------------------------------------------------------------------------


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 if empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(pct / 100 * len(sorted_values) + 0.4999999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_leaves(v) for v in value)
    return 1


def siao_command() -> list[str]:
    """The `siao` console script next to this interpreter, else `python -m server`."""
    script = Path(sys.executable).parent / "siao"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "server"]


# --- CPU accounting (Linux /proc; None elsewhere) -----------------------------------------

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


def cpu_snapshot(running: RunningServer) -> CpuSnapshot:
    """The machine, the server's process group, each worker (CPU and client connections;
    with one worker `siao serve` itself serves, with more its multiprocessing children),
    the embedded Postgres (postmaster and its children)."""
    machine = _machine_cpu()
    processes = _processes()
    group = {pid: p for pid, p in processes.items() if p.pgrp == running.pgid}
    workers = [pid for pid in group if "spawn_main" in _cmdline(pid)]
    if running.workers == 1 or not workers:
        workers = [running.pgid] if running.pgid in group else list(group)
    inodes = _established(running.port)
    postgres: float | None = None
    if running.postmaster is not None and running.postmaster in processes:
        postgres = sum(
            p.cpu
            for pid, p in processes.items()
            if pid == running.postmaster or p.ppid == running.postmaster
        )
    return CpuSnapshot(
        machine_busy=machine[0] if machine else None,
        machine_total=machine[1] if machine else None,
        server=sum(p.cpu for p in group.values()) if group else None,
        postgres=postgres,
        client=time.process_time(),
        workers={pid: (group[pid].cpu, _connections(pid, inodes)) for pid in sorted(workers)},
    )


def machine_busy(interval: float = 1.0) -> float | None:
    """Percent of all CPUs busy over `interval` seconds (other work skews the figures)."""
    before = _machine_cpu()
    time.sleep(interval)
    after = _machine_cpu()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


# --- database and server -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Database:
    url: str
    kind: str  # "embedded" or "DATABASE_URL"
    postmaster: int | None  # the embedded server's main process (its CPU is measured)


def _postmaster(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def database(data_dir: Path) -> Iterator[Database]:
    """DATABASE_URL if set, else an embedded server deleted at the end; migrated and
    loaded with the demo data (idempotent) either way."""
    url = os.environ.get("DATABASE_URL") or None
    embedded = None
    if url is None:
        from models.embedded import start_embedded

        embedded = start_embedded(data_dir / "embedded", cleanup="delete")
        url = embedded.url
    try:
        upgrade(url)
        summary = asyncio.run(load_demo(url))
        print(f"Demo data: {summary}", flush=True)
        if embedded is None:
            yield Database(url, "DATABASE_URL", None)
        else:
            yield Database(url, "embedded", _postmaster(data_dir / "embedded" / "pgdata"))
    finally:
        if embedded is not None:
            embedded.stop()


@dataclass(frozen=True, slots=True)
class RunningServer:
    base: str
    port: int
    workers: int
    pgid: int  # its own process group: the `siao serve` parent and its uvicorn workers
    postmaster: int | None  # the embedded Postgres behind it, if this script started it


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def server(db: Database, data_dir: Path, workers: int) -> Iterator[RunningServer]:
    """`siao serve` on a free port, ready (/health/ready said 200); stopped at the end
    (SIGTERM, then SIGKILL of its process group) whatever happens."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db.url, SIAO_DATA_DIR=str(data_dir), SIAO_ENV="dev")
    # the server runs the code of this tree (the editable install may point at another one)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    log_path = data_dir / "server.log"
    command = [*siao_command(), "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, measured and stopped as one
        )
    try:
        running = RunningServer(f"http://{HOST}:{port}", port, workers, proc.pid, db.postmaster)
        wait_ready(proc, running.base, log_path)
        yield running
    finally:
        stop_process(proc)


def wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"siao serve exited with code {proc.returncode} before being ready:\n"
                    + _tail(log_path)
                )
            try:
                response = client.get(f"{base}/health/ready")
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(POLL_INTERVAL)
    raise RuntimeError(
        f"siao serve not ready after {READY_TIMEOUT:.0f}s ({last}):\n" + _tail(log_path)
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    # workers left behind by a parent that died first (same process group, started by us)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# --- load --------------------------------------------------------------------------------


def parse_response(status: int, content: bytes) -> tuple[str | None, int | None, float | None]:
    """(error, sql statements, sql ms) of one response."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return f"HTTP {status}: not JSON", None, None
    if not isinstance(body, dict):
        return f"HTTP {status}: unexpected body", None, None
    sql = (body.get("extensions") or {}).get("sql") or {}
    statements = sql.get("statements")
    ms = sql.get("ms")
    error: str | None = None
    if status != 200:
        error = f"HTTP {status}"
    if body.get("errors"):
        first_error = body["errors"][0]
        code = (first_error.get("extensions") or {}).get("code")
        error = f"{error or 'GraphQL'}: {code}: {first_error.get('message')}"
    elif body.get("data") is None:
        error = f"{error or 'GraphQL'}: no data"
    return (
        error,
        statements if isinstance(statements, int) else None,
        float(ms) if isinstance(ms, int | float) else None,
    )


async def send(client: httpx.AsyncClient, body: bytes) -> Sample:
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=body)
        content = response.content
    except httpx.HTTPError as exc:
        ended = time.perf_counter()
        return Sample(ended, ended - started, 0, 0, type(exc).__name__, None, None)
    ended = time.perf_counter()
    error, statements, ms = parse_response(response.status_code, content)
    return Sample(ended, ended - started, response.status_code, len(content), error, statements, ms)


async def check_shape(client: httpx.AsyncClient, body: bytes) -> Shape:
    """One request before the load, to fail early and describe what is being measured."""
    response = await client.post("/graphql", content=body)
    error, _, _ = parse_response(response.status_code, response.content)
    if error is not None:
        raise RuntimeError(f"the work list query fails: {error}")
    data = orjson.loads(response.content)["data"]
    households = data["households"]
    edges = households["edges"]
    if not edges or edges[0]["node"]["reference"] != FIRST_75_REFERENCE:
        first_ref = edges[0]["node"]["reference"] if edges else None
        raise RuntimeError(
            f"{LOGIN} should see household {FIRST_75_REFERENCE} first, got {first_ref}: "
            "is the demo data loaded?"
        )
    return Shape(
        households=len(households["edges"]),
        total_count=households["totalCount"],
        leaf_fields=count_leaves(data),
    )


@dataclass(frozen=True, slots=True)
class LoadResult:
    shape: Shape
    samples: list[Sample]  # those that ended inside the measured window
    cpu_from: CpuSnapshot
    cpu_to: CpuSnapshot
    window: float  # seconds between the two snapshots


async def load(
    running: RunningServer,
    token: str,
    first: int,
    concurrency: int,
    warmup: float,
    seconds: float,
) -> LoadResult:
    body = orjson.dumps({"query": QUERY, "variables": {"first": first}})
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=running.base, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT
    ) as client:
        shape = await check_shape(client, body)
        measure_from = time.perf_counter() + warmup
        stagger = min(STAGGER, warmup / 2 / concurrency)
        measure_to = measure_from + seconds

        async def loop(index: int) -> list[Sample]:
            # connections open one after the other during the warm-up, not as one burst
            # that a single uvicorn worker would accept whole
            await asyncio.sleep(index * stagger)
            samples: list[Sample] = []
            while time.perf_counter() < measure_to:
                samples.append(await send(client, body))
            return samples

        async def snapshots() -> tuple[CpuSnapshot, CpuSnapshot, float]:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            started, first_snapshot = time.perf_counter(), cpu_snapshot(running)
            await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
            return first_snapshot, cpu_snapshot(running), time.perf_counter() - started

        cpu = asyncio.create_task(snapshots())
        per_loop = await asyncio.gather(*(loop(i) for i in range(concurrency)))
        cpu_from, cpu_to, window = await cpu
    measured = [s for samples in per_loop for s in samples if measure_from <= s.ended < measure_to]
    return LoadResult(shape, measured, cpu_from, cpu_to, window)


def _percent(before: float | None, after: float | None, window: float) -> float | None:
    if before is None or after is None or window <= 0:
        return None
    return round(100 * (after - before) / window, 1)


def summarise(report: Report, result: LoadResult) -> None:
    samples = result.samples
    report.households_per_response = result.shape.households
    report.leaf_fields_per_response = result.shape.leaf_fields
    report.requests = len(samples)
    report.requests_per_s = round(len(samples) / report.seconds, 1)
    latencies = sorted(s.latency * 1000 for s in samples)
    report.p50_ms = round(percentile(latencies, 50), 1)
    report.p95_ms = round(percentile(latencies, 95), 1)
    report.p99_ms = round(percentile(latencies, 99), 1)
    report.max_ms = round(latencies[-1], 1) if latencies else 0.0
    for sample in samples:
        key = str(sample.status)
        report.statuses[key] = report.statuses.get(key, 0) + 1
    failed = [s for s in samples if s.error is not None]
    report.errors = len(failed)
    report.error_examples = sorted({s.error for s in failed if s.error})[:5]
    ok = [s for s in samples if s.error is None]
    if ok:
        report.mean_response_kb = round(sum(s.size for s in ok) / len(ok) / 1024, 1)
    statements = [s.sql_statements for s in ok if s.sql_statements is not None]
    if statements:
        report.sql_statements_min = min(statements)
        report.sql_statements_max = max(statements)
        report.sql_statements_constant = min(statements) == max(statements)
    db_ms = [s.sql_ms for s in ok if s.sql_ms is not None]
    if db_ms:
        report.mean_db_ms = round(sum(db_ms) / len(db_ms), 2)

    a, b, window = result.cpu_from, result.cpu_to, result.window
    report.server_cpu_percent = _percent(a.server, b.server, window)
    report.client_cpu_percent = _percent(a.client, b.client, window)
    report.postgres_cpu_percent = _percent(a.postgres, b.postgres, window)
    if (
        a.machine_busy is not None
        and b.machine_busy is not None
        and a.machine_total is not None
        and b.machine_total is not None
        and b.machine_total > a.machine_total
    ):
        share = (b.machine_busy - a.machine_busy) / (b.machine_total - a.machine_total)
        report.machine_cpu_percent = round(100 * share * (report.cpu_count or 1), 1)
        if report.server_cpu_percent is not None and report.client_cpu_percent is not None:
            others = report.machine_cpu_percent - report.server_cpu_percent
            others -= report.client_cpu_percent + (report.postgres_cpu_percent or 0.0)
            report.others_cpu_percent = round(max(0.0, others), 1)
    for pid, (cpu_to, connections) in b.workers.items():
        cpu_from = a.workers.get(pid, (cpu_to, 0))[0]
        report.worker_cpu_percent.append(round(100 * (cpu_to - cpu_from) / window, 1))
        report.worker_connections.append(connections)
    if report.server_cpu_percent is not None and report.requests:
        server_seconds = report.server_cpu_percent / 100 * window
        report.server_cpu_ms_per_request = round(1000 * server_seconds / report.requests, 1)
    if report.postgres_cpu_percent is not None and report.requests:
        postgres_seconds = report.postgres_cpu_percent / 100 * window
        report.postgres_cpu_ms_per_request = round(1000 * postgres_seconds / report.requests, 1)


def _opt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def print_report(report: Report) -> None:
    postgres_in_others = report.postgres_cpu_percent is None
    others_limit = OTHERS_WARNING + (POSTGRES_ALLOWANCE if postgres_in_others else 0.0)
    statements = (
        "n/a (no extensions.sql: is SIAO_ENV=dev?)"
        if report.sql_statements_min is None
        else f"{report.sql_statements_min}..{report.sql_statements_max}"
        + ("" if report.sql_statements_constant else "  <-- NOT CONSTANT")
    )
    lines = [
        "",
        f"work list, first={report.first}: {report.households_per_response} households, "
        f"{report.leaf_fields_per_response} leaf fields, {report.mean_response_kb} KB",
        f"workers={report.workers} concurrency={report.concurrency} "
        f"seconds={report.seconds:g} (warm-up {report.warmup:g}) database={report.database}",
        f"python {report.python}, {report.cpu_count} CPUs, commit {report.git_commit}, "
        f"CPUs busy before the run {_opt(report.busy_before_percent, '%')}",
        "",
        f"  requests/s        {report.requests_per_s:>9.1f}   ({report.requests} requests)",
        f"  latency p50       {report.p50_ms:>9.1f} ms",
        f"  latency p95       {report.p95_ms:>9.1f} ms",
        f"  latency p99       {report.p99_ms:>9.1f} ms   (max {report.max_ms:.1f})",
        f"  errors            {report.errors:>9d}   (HTTP statuses {report.statuses})",
        f"  response size     {report.mean_response_kb:>9.1f} KB",
        f"  SQL statements    {statements:>9}   per request",
        f"  SQL time (server) {_opt(report.mean_db_ms):>9} ms per request (mean, wall time: "
        "see README)",
        f"  server CPU        {_opt(report.server_cpu_ms_per_request):>9} ms per request",
        f"  Postgres CPU      {_opt(report.postgres_cpu_ms_per_request):>9} ms per request",
        f"  CPU, % of 1 core  server {_opt(report.server_cpu_percent)}, "
        f"Postgres {_opt(report.postgres_cpu_percent)}, "
        f"load generator {_opt(report.client_cpu_percent)}, "
        f"others{' (Postgres included)' if postgres_in_others else ''} "
        f"{_opt(report.others_cpu_percent)}; "
        f"machine {_opt(report.machine_cpu_percent)} of {100 * (report.cpu_count or 1)}",
    ]
    if report.workers > 1:
        lines.append(
            f"  workers           CPU % {report.worker_cpu_percent}, "
            f"connections {report.worker_connections}"
        )
    lines += [f"  error: {example}" for example in report.error_examples]
    if report.workers > 1 and report.worker_connections:
        busiest, idlest = max(report.worker_connections), min(report.worker_connections)
        if idlest == 0:
            lines.append(
                "  warning: a worker holds no connection and idles: the figures are those "
                f"of fewer workers ({report.worker_connections} connections)"
            )
        elif busiest > 2 * idlest:
            lines.append(
                "  note: connections unevenly spread over the workers "
                f"({report.worker_connections}): the latencies mix a crowded and a quiet worker"
            )
    if report.busy_before_percent is not None and report.busy_before_percent > BUSY_WARNING:
        lines.append(f"  warning: the CPUs were {report.busy_before_percent}% busy before the run")
    if report.others_cpu_percent is not None and report.others_cpu_percent > others_limit:
        lines.append(
            f"  warning: other processes used {report.others_cpu_percent}% of a core during "
            "the run: they competed with the server, the figures are low; run again"
        )
    print("\n".join(lines), flush=True)


# --- command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description="Requests/s of `siao serve` on the work list query (households with "
        "members, demands and latest audit events).",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="concurrent request loops (default 4)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds (15)")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first (2)")
    parser.add_argument("--first", type=int, default=50, help="households per page (50)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.concurrency < 1 or args.first < 1:
        parser.error("--workers, --concurrency and --first must be at least 1")
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    return args


def measure(
    args: argparse.Namespace,
    running: RunningServer,
    settings: Settings,
    kind: str,
    busy: float | None,
) -> Report:
    token = mint_dev_token(settings, LOGIN)
    report = Report(
        workers=args.workers,
        concurrency=args.concurrency,
        seconds=args.seconds,
        warmup=args.warmup,
        first=args.first,
        python=platform.python_version(),
        cpu_count=os.cpu_count(),
        git_commit=git_commit(),
        database=kind,
        date=time.strftime("%Y-%m-%d"),
        busy_before_percent=busy,
    )
    print(
        f"Server ready at {running.base} ({args.workers} worker(s)); "
        f"{args.warmup:g}s warm-up, then {args.seconds:g}s measured...",
        flush=True,
    )
    result = asyncio.run(
        load(running, token, args.first, args.concurrency, args.warmup, args.seconds)
    )
    summarise(report, result)
    return report


def run(args: argparse.Namespace) -> Report:
    with tempfile.TemporaryDirectory(prefix="siao-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(env=Environment.DEV, data_dir=data_dir)
        # the key exists before the workers start: they would otherwise race to create it
        load_or_create_dev_key(settings)
        with database(data_dir) as db:
            busy = machine_busy()
            with server(db, data_dir, args.workers) as running:
                return measure(args, running, settings, db.kind, busy)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except RuntimeError as exc:
        print(f"bench.throughput: {exc}", file=sys.stderr)
        return 1
    print_report(report)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2) + b"\n")
        print(f"Wrote {args.json}")
    return 0 if report.errors == 0 and report.requests > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
