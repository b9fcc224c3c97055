"""What the benchmarks share: a database (DATABASE_URL, or an embedded server of their
own), `siao serve` as a subprocess, keep-alive request loops with a warm-up and a
measured window, the figures of a window (latency percentiles, errors, SQL statements)
and where the CPU went meanwhile (Linux /proc). Used by bench.throughput and bench.run.
"""

from __future__ import annotations

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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from auth.settings import Environment, Settings
from auth.tokens import load_or_create_dev_key
from migrations import upgrade
from models.demo import load_demo

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0  # seconds for `siao serve` to answer /health/ready
POLL_INTERVAL = 0.1
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STAGGER = 0.05  # seconds between the first requests of two loops (within the warm-up)
BUSY_WARNING = 10.0  # percent of all CPUs used by others before the run
OTHERS_WARNING = 15.0  # percent of one core used by other processes during the run
POSTGRES_ALLOWANCE = 25.0  # added when Postgres is not measured: it is in "others"
STAT_STATEMENTS = "pg_stat_statements"


# --- small helpers -----------------------------------------------------------------------


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


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, Settings]]:
    """A temp folder (deleted at the end) for the server's data, and dev settings whose
    signing key exists before the workers start: they would otherwise race to create it."""
    with tempfile.TemporaryDirectory(prefix="siao-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(env=Environment.DEV, data_dir=data_dir)
        load_or_create_dev_key(settings)
        yield data_dir, settings


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


def plain_url(url: str) -> str:
    """The libpq form of a database URL that asyncpg wants (no `+asyncpg` driver)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def opt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


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


# --- database and server -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Database:
    url: str
    kind: str  # "embedded" or "DATABASE_URL"
    postmaster: int | None  # the server's main process, when it runs on this machine
    name: str | None  # the database, to tell our backends on a shared server; None: ours
    stat_statements: bool  # pg_stat_statements is loaded and created in this database

    @property
    def dsn(self) -> str:
        return plain_url(self.url)


def _postmaster(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


async def _inspect(url: str) -> tuple[int | None, str, bool]:
    """(postmaster pid when the server runs here, database name, pg_stat_statements
    usable). Creates the extension in the database when the server has loaded it."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        name = await conn.fetchval("SELECT current_database()")
        preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        usable = STAT_STATEMENTS in [p.strip() for p in str(preload).split(",")]
        if usable:
            try:
                await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {STAT_STATEMENTS}")
            except asyncpg.PostgresError:
                usable = False  # not allowed to: the database time is then n/a
        postmaster = _parent(backend)  # while the backend lives
    finally:
        await conn.close()
    return postmaster, str(name), usable


def _parent(pid: int) -> int | None:
    """The parent of a process of this machine (a backend's is the postmaster)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[1])
    return None


def _embedded_with_stat_statements(folder: Path) -> Any:
    """An embedded server in `folder` (deleted at the end) with pg_stat_statements
    preloaded: started once to write the setting, then started again."""
    from models.embedded import start_embedded

    first = start_embedded(folder, cleanup="stop")
    try:
        asyncio.run(_preload(plain_url(first.url)))
    finally:
        first.stop()
    return start_embedded(folder, cleanup="delete")


async def _preload(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"ALTER SYSTEM SET shared_preload_libraries = '{STAT_STATEMENTS}'")
        await conn.execute(f"ALTER SYSTEM SET {STAT_STATEMENTS}.track_planning = on")
    finally:
        await conn.close()


@contextlib.contextmanager
def database(
    data_dir: Path, *, stat_statements: bool = False, prepare: Callable[[str], None] | None = None
) -> Iterator[Database]:
    """DATABASE_URL if set, else an embedded server deleted at the end (with
    pg_stat_statements preloaded if asked); migrated and loaded with the demo data
    (idempotent) either way, then `prepare(url)` if given."""
    url = os.environ.get("DATABASE_URL") or None
    embedded = None
    if url is None:
        if stat_statements:
            embedded = _embedded_with_stat_statements(data_dir / "embedded")
        else:
            from models.embedded import start_embedded

            embedded = start_embedded(data_dir / "embedded", cleanup="delete")
        url = embedded.url
    try:
        upgrade(url)
        summary = asyncio.run(load_demo(url))
        print(f"Demo data: {summary}", flush=True)
        if prepare is not None:
            prepare(url)
        postmaster, name, usable = asyncio.run(_inspect(url))
        if embedded is None:
            yield Database(url, "DATABASE_URL", postmaster, name, usable)
        else:
            pid = _postmaster(data_dir / "embedded" / "pgdata") or postmaster
            yield Database(url, "embedded", pid, None, usable)
    finally:
        if embedded is not None:
            embedded.stop()


@dataclass(frozen=True, slots=True)
class RunningServer:
    base: str
    port: int
    workers: int
    pgid: int  # its own process group: the `siao serve` parent and its uvicorn workers
    db: Database


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
        running = RunningServer(f"http://{HOST}:{port}", port, workers, proc.pid, db)
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


# --- requests ----------------------------------------------------------------------------


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
    label: str = ""  # what was sent (a document's name)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One response: its error (None if it is a success), its `data`, and the SQL cost
    that the server reports in dev (`extensions.sql`)."""

    error: str | None
    data: Any
    sql_statements: int | None
    sql_ms: float | None


Check = Callable[[Any], str | None]  # a response's `data` -> what is wrong with it, or None
Request = tuple[bytes, Check | None, str]  # a JSON body, the check of its answer, a label


def parse_response(status: int, content: bytes) -> Parsed:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Parsed(f"HTTP {status}: not JSON", None, None, None)
    if not isinstance(body, dict):
        return Parsed(f"HTTP {status}: unexpected body", None, None, None)
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
    return Parsed(
        error,
        body.get("data"),
        statements if isinstance(statements, int) else None,
        float(ms) if isinstance(ms, int | float) else None,
    )


async def send(client: httpx.AsyncClient, request: Request) -> Sample:
    body, check, label = request
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=body)
        content = response.content
    except httpx.HTTPError as exc:
        ended = time.perf_counter()
        return Sample(ended, ended - started, 0, 0, type(exc).__name__, None, None, label)
    ended = time.perf_counter()
    parsed = parse_response(response.status_code, content)
    error = parsed.error
    if error is None and check is not None:
        error = check(parsed.data)
    return Sample(
        ended,
        ended - started,
        response.status_code,
        len(content),
        error,
        parsed.sql_statements,
        parsed.sql_ms,
        label,
    )


def client(base: str, token: str, concurrency: int) -> httpx.AsyncClient:
    """Keep-alive connections, one per loop, authenticated as the token's viewer."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT)


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of traffic: C loops, each sending `next_request()` as soon as its previous
    answer comes back, over keep-alive connections of its own."""

    name: str
    concurrency: int
    next_request: Callable[[], Request]


@dataclass(frozen=True, slots=True)
class Window:
    """What a measured window saw: the samples of each stream that ended inside it, the
    CPU at both ends, its length, and what the `at_start`/`at_end` hooks returned."""

    samples: dict[str, list[Sample]]
    cpu_from: CpuSnapshot
    cpu_to: CpuSnapshot
    seconds: float
    started: Any = None
    ended: Any = None


async def play(
    running: RunningServer,
    token: str,
    streams: Sequence[Stream],
    warmup: float,
    seconds: float,
    *,
    at_start: Callable[[], Awaitable[Any]] | None = None,
    at_end: Callable[[], Awaitable[Any]] | None = None,
) -> Window:
    """Every stream at once: `warmup` seconds not counted, then `seconds` measured. The
    loops start `STAGGER` apart (within the warm-up); only requests that end inside the
    window count. The hooks run at the window's two ends (e.g. database counters)."""
    measure_from = time.perf_counter() + warmup
    measure_to = measure_from + seconds
    loops = sum(s.concurrency for s in streams)
    stagger = min(STAGGER, warmup / 2 / loops) if loops else 0.0
    clients = [client(running.base, token, s.concurrency) for s in streams]

    async def loop(http: httpx.AsyncClient, stream: Stream, index: int) -> list[Sample]:
        # connections open one after the other during the warm-up, not as one burst
        # that a single uvicorn worker would accept whole
        await asyncio.sleep(index * stagger)
        samples: list[Sample] = []
        while time.perf_counter() < measure_to:
            samples.append(await send(http, stream.next_request()))
        return samples

    async def snapshots() -> tuple[CpuSnapshot, CpuSnapshot, float, Any, Any]:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        started_hook = await at_start() if at_start is not None else None
        started, first = time.perf_counter(), cpu_snapshot(running)
        await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
        last, length = cpu_snapshot(running), time.perf_counter() - started
        ended_hook = await at_end() if at_end is not None else None
        return first, last, length, started_hook, ended_hook

    try:
        watch = asyncio.create_task(snapshots())
        index = 0
        tasks: list[tuple[str, asyncio.Task[list[Sample]]]] = []
        for http, stream in zip(clients, streams, strict=True):
            for _ in range(stream.concurrency):
                tasks.append((stream.name, asyncio.create_task(loop(http, stream, index))))
                index += 1
        await asyncio.gather(*(task for _, task in tasks))
        cpu_from, cpu_to, length, started_hook, ended_hook = await watch
    finally:
        for http in clients:
            await http.aclose()
    samples: dict[str, list[Sample]] = {s.name: [] for s in streams}
    for name, task in tasks:
        samples[name] += [s for s in task.result() if measure_from <= s.ended < measure_to]
    return Window(samples, cpu_from, cpu_to, length, started_hook, ended_hook)


# --- figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    """The client's view of one stream over a window."""

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
    sql_statements_min: int | None = None
    sql_statements_max: int | None = None
    sql_statements_constant: bool = False
    mean_sql_ms: float | None = None  # the server's timer: wall time, not database time


def figures(samples: Sequence[Sample], seconds: float) -> Figures:
    result = Figures(requests=len(samples), requests_per_s=round(len(samples) / seconds, 1))
    latencies = sorted(s.latency * 1000 for s in samples)
    result.p50_ms = round(percentile(latencies, 50), 1)
    result.p95_ms = round(percentile(latencies, 95), 1)
    result.p99_ms = round(percentile(latencies, 99), 1)
    result.max_ms = round(latencies[-1], 1) if latencies else 0.0
    for sample in samples:
        key = str(sample.status)
        result.statuses[key] = result.statuses.get(key, 0) + 1
    failed = [s for s in samples if s.error is not None]
    result.errors = len(failed)
    result.error_examples = sorted({s.error for s in failed if s.error})[:5]
    ok = [s for s in samples if s.error is None]
    if ok:
        result.mean_response_kb = round(sum(s.size for s in ok) / len(ok) / 1024, 1)
    statements = [s.sql_statements for s in ok if s.sql_statements is not None]
    if statements:
        result.sql_statements_min = min(statements)
        result.sql_statements_max = max(statements)
        result.sql_statements_constant = min(statements) == max(statements)
    sql_ms = [s.sql_ms for s in ok if s.sql_ms is not None]
    if sql_ms:
        result.mean_sql_ms = round(sum(sql_ms) / len(sql_ms), 2)
    return result


@dataclass
class Cpu:
    """Where the CPU went during a window, in percent of ONE core (2 cores = 200 %)."""

    server_percent: float | None = None
    client_percent: float | None = None
    postgres_percent: float | None = None  # None: not measured (a server elsewhere)
    machine_percent: float | None = None  # everything: server, Postgres, client, others
    others_percent: float | None = None  # machine - server - Postgres - client
    worker_percent: list[float] = field(default_factory=list)  # each worker
    worker_connections: list[int] = field(default_factory=list)  # at the end of the window

    def ms_per_request(self, percent: float | None, window: float, requests: int) -> float | None:
        """CPU milliseconds per request of a part measured at `percent` over `window` s."""
        if percent is None or not requests:
            return None
        return round(10 * percent * window / requests, 1)


def _percent(before: float | None, after: float | None, window: float) -> float | None:
    if before is None or after is None or window <= 0:
        return None
    return round(100 * (after - before) / window, 1)


def cpu(window: Window, cpu_count: int | None) -> Cpu:
    a, b, length = window.cpu_from, window.cpu_to, window.seconds
    result = Cpu(
        server_percent=_percent(a.server, b.server, length),
        client_percent=_percent(a.client, b.client, length),
        postgres_percent=_percent(a.postgres, b.postgres, length),
    )
    if (
        a.machine_busy is not None
        and b.machine_busy is not None
        and a.machine_total is not None
        and b.machine_total is not None
        and b.machine_total > a.machine_total
    ):
        share = (b.machine_busy - a.machine_busy) / (b.machine_total - a.machine_total)
        result.machine_percent = round(100 * share * (cpu_count or 1), 1)
        if result.server_percent is not None and result.client_percent is not None:
            others = result.machine_percent - result.server_percent
            others -= result.client_percent + (result.postgres_percent or 0.0)
            result.others_percent = round(max(0.0, others), 1)
    for pid, (cpu_to, connections) in b.workers.items():
        cpu_from = a.workers.get(pid, (cpu_to, 0))[0]
        result.worker_percent.append(round(100 * (cpu_to - cpu_from) / length, 1))
        result.worker_connections.append(connections)
    return result


def statements_line(result: Figures) -> str:
    if result.sql_statements_min is None:
        return "n/a (no extensions.sql: is SIAO_ENV=dev?)"
    return f"{result.sql_statements_min}..{result.sql_statements_max}" + (
        "" if result.sql_statements_constant else "  <-- NOT CONSTANT"
    )


def cpu_lines(usage: Cpu, workers: int, cpu_count: int | None) -> list[str]:
    """The CPU split, each worker's share, and the warnings that make a run worth
    doing again (a worker without connection, other processes competing)."""
    postgres_in_others = usage.postgres_percent is None
    lines = [
        f"  CPU, % of 1 core  server {opt(usage.server_percent)}, "
        f"Postgres {opt(usage.postgres_percent)}, "
        f"load generator {opt(usage.client_percent)}, "
        f"others{' (Postgres included)' if postgres_in_others else ''} "
        f"{opt(usage.others_percent)}; "
        f"machine {opt(usage.machine_percent)} of {100 * (cpu_count or 1)}"
    ]
    if workers > 1:
        lines.append(
            f"  workers           CPU % {usage.worker_percent}, "
            f"connections {usage.worker_connections}"
        )
    if workers > 1 and usage.worker_connections:
        busiest, idlest = max(usage.worker_connections), min(usage.worker_connections)
        if idlest == 0:
            lines.append(
                "  warning: a worker holds no connection and idles: the figures are those "
                f"of fewer workers ({usage.worker_connections} connections)"
            )
        elif busiest > 2 * idlest:
            lines.append(
                "  note: connections unevenly spread over the workers "
                f"({usage.worker_connections}): the latencies mix a crowded and a quiet worker"
            )
    if disturbed(usage):
        lines.append(
            f"  warning: other processes used {usage.others_percent}% of a core during "
            "the run: they competed with the server, the figures are low; run again"
        )
    return lines


def disturbed(usage: Cpu) -> bool:
    """Whether other processes competed enough for the run to be done again."""
    limit = OTHERS_WARNING + (POSTGRES_ALLOWANCE if usage.postgres_percent is None else 0.0)
    return usage.others_percent is not None and usage.others_percent > limit
