"""`siao bench run`: the real server under the load of issue #6's scenarios.

`python -m bench.run [--scenario record|queue|search|create-demand|all] [--workers N]
[--concurrency C] [--seconds S] [--warmup W] [--persons N] [--background search:16]
[--json out.json]` prepares a database (DATABASE_URL, or an embedded server in a temp
folder with pg_stat_statements, deleted at the end: migrations, demo data, and with
`--persons` the bench data set topped up to N persons), starts `siao serve` with N
workers, and plays each scenario (bench/scenarios.py) as `siao.75@demo.siao`: C loops,
a warm-up, S measured seconds, then a short window with one loop alone (the floor).
`--background search:16` keeps 16 loops of search running meanwhile, reported apart.

Per scenario it prints (and writes as JSON): requests/s, latency p50/p95/p99 (nearest
rank), errors with examples, SQL statements per request (`extensions.sql`, per document),
the database's own time per request (pg_stat_statements over the window, and with one
request at a time), the costliest statements, and where the CPU went. Exit code 1 on
any error or a scenario without requests. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
import orjson

from auth.tokens import mint_dev_token
from bench.database import database, plain_url
from bench.figures import Cpu, Figures, cpu, cpu_lines, disturbed, figures, opt, statements_line
from bench.machine import BUSY_WARNING, machine, machine_busy
from bench.scenarios import SCENARIOS, Scenario, prepare, viewer_of
from bench.seed import seed, vacuum
from bench.serve import RunningServer, server, workspace
from bench.traffic import Sample, Stream, client, play, send
from models.demo import SIAO_LOGIN

LOGIN = SIAO_LOGIN["75"]  # siao.75@demo.siao: every household of 75, the 75 work queue
FLOOR_WARMUP = 0.5  # seconds of the lone loop not counted
TOP_STATEMENTS = 5


# --- the database's own time (pg_stat_statements) ----------------------------------------

Counters = dict[tuple[int, int], tuple[int, float, str]]  # (user, query id): (calls, ms, text)


async def counters(conn: asyncpg.Connection[asyncpg.Record]) -> Counters:
    """pg_stat_statements of this database now (execution + planning time), without the
    statements that read it, and only those sent by a client: a statement run inside
    another (a function's) is already in its time."""
    rows = await conn.fetch(
        "SELECT userid, queryid, calls, total_exec_time + total_plan_time AS ms, query "
        "FROM pg_stat_statements WHERE toplevel AND dbid = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query NOT LIKE '%pg_stat_statements%'"
    )
    return {
        (r["userid"], r["queryid"]): (r["calls"], r["ms"], r["query"])
        for r in rows
        if r["queryid"] is not None
    }


@dataclass
class TopStatement:
    query: str  # normalised text, shortened
    calls: int
    ms_per_call: float
    percent: float  # of the database time of the window


@dataclass
class DbTime:
    """The database's own time in a window (pg_stat_statements), per request."""

    requests: int
    statements_per_request: float
    ms_per_request: float
    top: list[TopStatement] = field(default_factory=list)


def db_time(before: Counters | None, after: Counters | None, requests: int) -> DbTime | None:
    if before is None or after is None or not requests:
        return None
    spent: list[tuple[float, int, str]] = []
    for key, (calls, ms, query) in after.items():
        calls_before, ms_before, _ = before.get(key, (0, 0.0, ""))
        if calls > calls_before:
            spent.append((ms - ms_before, calls - calls_before, query))
    total_ms = sum(s[0] for s in spent)
    spent.sort(reverse=True)
    return DbTime(
        requests=requests,
        statements_per_request=round(sum(s[1] for s in spent) / requests, 2),
        ms_per_request=round(total_ms / requests, 2),
        top=[
            TopStatement(
                query=" ".join(query.split())[:200],
                calls=calls,
                ms_per_call=round(ms / calls, 3),
                percent=round(100 * ms / total_ms, 1) if total_ms else 0.0,
            )
            for ms, calls, query in spent[:TOP_STATEMENTS]
        ],
    )


# --- report ------------------------------------------------------------------------------


@dataclass
class Floor:
    """One loop alone, right after the window: what a request costs with no queue."""

    requests: int
    p50_ms: float
    db: DbTime | None


@dataclass
class ScenarioReport:
    scenario: str
    concurrency: int
    background: list[str]  # "search:16"
    figures: Figures
    documents: dict[str, Document]  # the statements and sizes of each document's answers
    background_figures: dict[str, Figures] = field(default_factory=dict)
    cpu: Cpu = field(default_factory=Cpu)
    server_cpu_ms_per_request: float | None = None  # all requests of the window, background too
    postgres_cpu_ms_per_request: float | None = None
    db: DbTime | None = None  # the whole window, background included
    floor: Floor | None = None
    answers_ok: int = 0  # every answer that passed its check, warm-up and floor included
    search_found_percent: float | None = None  # search: the person sought was listed
    demands_created: int | None = None  # create-demand: rows added to `demands`
    disturbed: bool = False  # other processes competed: run again


@dataclass
class RunReport:
    workers: int
    concurrency: int
    seconds: float
    warmup: float
    floor_seconds: float
    login: str
    python: str
    cpu_count: int | None
    git_commit: str | None
    database: str
    postgres: str
    persons: int
    stat_statements: bool
    date: str
    busy_before_percent: float | None
    scenarios: list[ScenarioReport] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Any error, in a measured scenario or its background, or one without requests."""
        return (
            any(
                s.figures.errors
                or not s.figures.requests
                or any(b.errors for b in s.background_figures.values())
                for s in self.scenarios
            )
            or not self.scenarios
        )


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Document:
    """What one document of a scenario cost, over the answers without error: if its
    statement count grew with the answer's size, that would be a statement per row."""

    requests: int
    statements_min: int | None
    statements_max: int | None
    kb_min: float
    kb_max: float


def documents(samples: list[Sample]) -> dict[str, Document]:
    by_label: dict[str, list[Sample]] = {}
    for s in samples:
        if s.error is None:
            by_label.setdefault(s.label, []).append(s)
    found = {}
    for label, ok in sorted(by_label.items()):
        counts = [s.sql_statements for s in ok if s.sql_statements is not None]
        found[label] = Document(
            requests=len(ok),
            statements_min=min(counts) if counts else None,
            statements_max=max(counts) if counts else None,
            kb_min=round(min(s.size for s in ok) / 1024, 1),
            kb_max=round(max(s.size for s in ok) / 1024, 1),
        )
    return found


async def _first_answers(running: RunningServer, token: str, scenario: Scenario) -> None:
    """Each document of the scenario once before the load: fail early, not with a
    window full of errors."""
    left = set(scenario.documents)
    async with client(running.base, token, 1) as http:
        for _ in range(50 * len(left)):
            request = scenario.next_request()
            if request[2] not in left:
                continue
            sample = await send(http, request)
            if sample.error is not None:
                raise RuntimeError(f"{scenario.name} ({request[2]}) fails: {sample.error}")
            left.discard(request[2])
            if not left:
                return


async def _demands(conn: asyncpg.Connection[asyncpg.Record]) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM demands"))


async def measure(
    args: argparse.Namespace,
    running: RunningServer,
    token: str,
    report: RunReport,
) -> None:
    conn = await asyncpg.connect(running.db.dsn)
    try:
        viewer = await viewer_of(conn, args.login)
        stats = (lambda: counters(conn)) if running.db.stat_statements else None
        background = [
            (await prepare(conn, name, viewer, args.seed + 1), loops)
            for name, loops in args.background
        ]
        for name in args.scenarios:
            scenario = await prepare(conn, name, viewer, args.seed)
            demands_before = await _demands(conn)
            await _first_answers(running, token, scenario)
            streams = [Stream(name, args.concurrency, scenario.next_request)]
            streams += [
                Stream(f"{b.name} (background)", loops, b.next_request) for b, loops in background
            ]
            print(
                f"{name}: {args.warmup:g}s warm-up, {args.seconds:g}s measured"
                + "".join(f", {s.name} x{s.concurrency}" for s in streams[1:])
                + "...",
                flush=True,
            )
            window = await play(
                running, token, streams, args.warmup, args.seconds, at_start=stats, at_end=stats
            )
            result = ScenarioReport(
                scenario=name,
                concurrency=args.concurrency,
                background=[f"{b.name}:{loops}" for b, loops in background],
                figures=figures(window.samples[name], args.seconds),
                documents=documents(window.samples[name]),
                background_figures={
                    s.name: figures(window.samples[s.name], args.seconds) for s in streams[1:]
                },
            )
            everything = sum(len(samples) for samples in window.samples.values())
            result.cpu = cpu(window, report.cpu_count)
            result.disturbed = disturbed(result.cpu)
            result.server_cpu_ms_per_request = result.cpu.ms_per_request(
                result.cpu.server_percent, window.seconds, everything
            )
            result.postgres_cpu_ms_per_request = result.cpu.ms_per_request(
                result.cpu.postgres_percent, window.seconds, everything
            )
            result.db = db_time(window.started, window.ended, everything)
            if args.floor_seconds > 0:
                alone = Stream(name, 1, scenario.next_request)
                lone = await play(
                    running, token, [alone], FLOOR_WARMUP, args.floor_seconds, at_start=stats,
                    at_end=stats,
                )  # fmt: skip
                samples = lone.samples[name]
                result.floor = Floor(
                    requests=len(samples),
                    p50_ms=figures(samples, args.floor_seconds).p50_ms,
                    db=db_time(lone.started, lone.ended, len(samples)),
                )
            result.answers_ok = scenario.tally.ok
            result.search_found_percent = scenario.tally.found_percent
            if name == "create-demand":
                result.demands_created = await _demands(conn) - demands_before
            report.scenarios.append(result)
            print_scenario(result)
    finally:
        await conn.close()


async def _persons(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM persons"))
    finally:
        await conn.close()


def top_up(persons: int) -> Callable[[str], None]:
    """Seeds bench persons until the database holds `persons` (nothing if it does)."""

    def run(url: str) -> None:
        dsn = plain_url(url)
        held = asyncio.run(_persons(dsn))
        if held >= persons:
            print(f"{held:,} persons in the database: no seeding needed", flush=True)
            return
        print(f"{held:,} persons in the database: seeding {persons - held:,}...", flush=True)
        print(asyncio.run(seed(dsn, persons - held)).summary(), flush=True)
        print(f"VACUUM (ANALYZE) in {asyncio.run(vacuum(dsn)):.0f}s", flush=True)

    return run


async def _server_facts(dsn: str) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SHOW server_version")
        persons = await conn.fetchval("SELECT count(*) FROM persons")
    finally:
        await conn.close()
    return str(version), int(persons)


def run(args: argparse.Namespace) -> RunReport:
    with workspace() as (data_dir, settings):
        prepare_data = top_up(args.persons) if args.persons else None
        with database(data_dir, stat_statements=True, prepare=prepare_data) as db:
            version, persons = asyncio.run(_server_facts(db.dsn))
            report = RunReport(
                **machine(),
                workers=args.workers,
                concurrency=args.concurrency,
                seconds=args.seconds,
                warmup=args.warmup,
                floor_seconds=args.floor_seconds,
                login=args.login,
                database=db.kind,
                postgres=version,
                persons=persons,
                stat_statements=db.stat_statements,
                busy_before_percent=machine_busy(),
            )
            print_header(report)
            with server(db, data_dir, args.workers) as running:
                token = mint_dev_token(settings, args.login)
                print(f"Server ready at {running.base} ({args.workers} worker(s))", flush=True)
                asyncio.run(measure(args, running, token, report))
    return report


# --- output ------------------------------------------------------------------------------


def print_header(report: RunReport) -> None:
    floor = "" if report.stat_statements else " (database time n/a: see bench/README.md)"
    lines = [
        "",
        f"workers={report.workers} concurrency={report.concurrency} "
        f"seconds={report.seconds:g} (warm-up {report.warmup:g}, floor "
        f"{report.floor_seconds:g}) as {report.login}",
        f"database={report.database} PostgreSQL {report.postgres}, {report.persons:,} persons, "
        f"pg_stat_statements {'on' if report.stat_statements else 'off'}{floor}",
        f"python {report.python}, {report.cpu_count} CPUs, commit {report.git_commit}, "
        f"CPUs busy before the run {opt(report.busy_before_percent, '%')}",
    ]
    if report.busy_before_percent is not None and report.busy_before_percent > BUSY_WARNING:
        lines.append(f"warning: the CPUs were {report.busy_before_percent}% busy before the run")
    print("\n".join(lines), flush=True)


def _db_line(db: DbTime | None) -> str:
    if db is None:
        return "n/a"
    return f"{db.ms_per_request:.2f} ms, {db.statements_per_request:g} statements"


def print_scenario(result: ScenarioReport) -> None:
    f = result.figures
    costs = [
        f"{label} {d.statements_min}"
        + ("" if d.statements_min == d.statements_max else f"..{d.statements_max}")
        + f" ({d.kb_min:g}-{d.kb_max:g} KB)"
        for label, d in result.documents.items()
    ]
    lines = [
        "",
        f"== {result.scenario}, concurrency {result.concurrency}"
        + (f", background {', '.join(result.background)}" if result.background else ""),
        f"  requests/s        {f.requests_per_s:>9.1f}   ({f.requests} requests)",
        f"  latency p50       {f.p50_ms:>9.1f} ms",
        f"  latency p95       {f.p95_ms:>9.1f} ms",
        f"  latency p99       {f.p99_ms:>9.1f} ms   (max {f.max_ms:.1f})",
        f"  errors            {f.errors:>9d}   (HTTP statuses {f.statuses})",
        f"  SQL statements    {statements_line(f):>9}   per request",
        f"    per document    {'; '.join(costs)}",
        f"  database time     {_db_line(result.db)} per request (the window, all streams)",
    ]
    if result.floor is not None:
        lines.append(
            f"  floor, 1 loop     {_db_line(result.floor.db)} per request "
            f"(p50 {result.floor.p50_ms:.1f} ms over {result.floor.requests} requests)"
        )
    lines += [
        f"  server CPU        {opt(result.server_cpu_ms_per_request):>9} ms per request",
        f"  Postgres CPU      {opt(result.postgres_cpu_ms_per_request):>9} ms per request",
        *cpu_lines(result.cpu, len(result.cpu.worker_percent), None),
    ]
    if result.search_found_percent is not None:
        lines.append(f"  person found      {result.search_found_percent:>9.1f} % of searches")
    if result.demands_created is not None:
        lines.append(
            f"  demands created   {result.demands_created:>9d}   (answers without userErrors: "
            f"{result.answers_ok})"
        )
    for name, b in result.background_figures.items():
        lines.append(
            f"  {name}: {b.requests_per_s:.1f} req/s, p50 {b.p50_ms:.1f} p95 {b.p95_ms:.1f} "
            f"p99 {b.p99_ms:.1f} ms, {b.errors} errors, statements {statements_line(b)}"
        )
        lines += [f"    error: {example}" for example in b.error_examples]
    if result.db is not None:
        lines.append("  costliest statements in the window (database time):")
        lines += [
            f"    {t.percent:5.1f}%  {t.ms_per_call:8.3f} ms x {t.calls:<6d} {t.query[:110]}"
            for t in result.db.top
        ]
    lines += [f"  error: {example}" for example in f.error_examples]
    print("\n".join(lines), flush=True)


def print_summary(report: RunReport) -> None:
    head = (
        f"{'scenario':<15} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'errors':>6} "
        f"{'statements':>10} {'db ms/req':>9} {'floor ms':>8} {'CPU ms/req':>10}"
    )
    lines = ["", head, "-" * len(head)]
    for s in report.scenarios:
        f = s.figures
        statements = (
            "n/a"
            if f.sql_statements_min is None
            else f"{f.sql_statements_min}..{f.sql_statements_max}"
        )
        floor = s.floor.db.ms_per_request if s.floor and s.floor.db else None
        name = s.scenario + (" +bg" if s.background else "") + (" (!)" if s.disturbed else "")
        lines.append(
            f"{name:<15} {f.requests_per_s:>7.1f} {f.p50_ms:>7.1f} {f.p95_ms:>7.1f} "
            f"{f.p99_ms:>7.1f} {f.errors:>6d} {statements:>10} "
            f"{opt(s.db.ms_per_request if s.db else None):>9} {opt(floor):>8} "
            f"{opt(s.server_cpu_ms_per_request):>10}"
        )
    lines.append(
        "latencies in ms (nearest rank); db ms/req: pg_stat_statements over the window; floor: "
        "the same with one loop alone; CPU: the server's; (!): other processes competed, "
        "run again"
    )
    print("\n".join(lines), flush=True)


# --- command line ------------------------------------------------------------------------


def _background(value: str) -> tuple[str, int]:
    name, _, loops = value.partition(":")
    if name not in SCENARIOS or not loops.isdigit() or int(loops) < 1:
        raise argparse.ArgumentTypeError(f"SCENARIO:LOOPS expected (e.g. search:16), got {value}")
    return name, int(loops)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="siao bench run",
        description="Serve with N workers and load the scenarios of issue #6 (household "
        "record, work queue, person search, create demand) at a given concurrency.",
    )
    parser.add_argument(
        "--scenario", choices=[*SCENARIOS, "all"], default="all", help="what to play (all)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="request loops (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first (2)")
    parser.add_argument(
        "--floor-seconds",
        type=float,
        default=2.0,
        help="then seconds of one loop alone, for the floor (2; 0: none)",
    )
    parser.add_argument(
        "--persons",
        type=int,
        default=0,
        help="seed bench persons until the database holds this many (default: none)",
    )
    parser.add_argument(
        "--background",
        type=_background,
        action="append",
        default=[],
        metavar="SCENARIO:LOOPS",
        help="keep LOOPS loops of SCENARIO running meanwhile, reported apart (repeatable)",
    )
    parser.add_argument("--login", default=LOGIN, help=f"the viewer (default {LOGIN})")
    parser.add_argument("--seed", type=int, default=1, help="random draw of the data (1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.concurrency < 1 or args.persons < 0:
        parser.error("--workers and --concurrency must be at least 1, --persons not negative")
    if args.seconds <= 0 or args.warmup < 0 or args.floor_seconds < 0:
        parser.error("--seconds must be positive, --warmup and --floor-seconds not negative")
    args.scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except RuntimeError as exc:
        print(f"siao bench run: {exc}", file=sys.stderr)
        return 1
    print_summary(report)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2) + b"\n")
        print(f"Wrote {args.json}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
