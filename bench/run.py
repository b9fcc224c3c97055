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
from dataclasses import asdict
from pathlib import Path

import asyncpg
import orjson

from auth.tokens import mint_dev_token
from bench.database import database, plain_url
from bench.figures import cpu, disturbed, figures
from bench.machine import machine, machine_busy
from bench.run_report import (
    Floor,
    RunReport,
    ScenarioReport,
    documents,
    print_header,
    print_scenario,
    print_summary,
)
from bench.scenarios import SCENARIOS, Scenario, prepare, viewer_of
from bench.seed import seed, vacuum
from bench.serve import RunningServer, server, workspace
from bench.stat_statements import counters, db_time
from bench.traffic import Stream, client, play, send
from models.demo import SIAO_LOGIN

LOGIN = SIAO_LOGIN["75"]  # siao.75@demo.siao: every household of 75, the 75 work queue
FLOOR_WARMUP = 0.5  # seconds of the lone loop not counted


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
            streams = [Stream(name, args.concurrency, scenario.next_request, args.think)]
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
                think=args.think,
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
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="mean pause of each measured loop after an answer (an operator reading it; "
        "exponentially distributed); default 0: back to back. Background loops never pause",
    )
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
    if args.seconds <= 0 or args.warmup < 0 or args.floor_seconds < 0 or args.think < 0:
        parser.error(
            "--seconds must be positive, --warmup, --floor-seconds and --think not negative"
        )
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
