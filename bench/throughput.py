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
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from auth.settings import Settings
from auth.tokens import mint_dev_token
from bench.database import database
from bench.figures import Cpu, Figures, count_leaves, cpu, cpu_lines, figures, opt, statements_line
from bench.machine import BUSY_WARNING, machine, machine_busy
from bench.serve import RunningServer, server, workspace
from bench.traffic import Stream, client, parse_response, play
from models.demo import FIRST_75_REFERENCE, SIAO_LOGIN

LOGIN = SIAO_LOGIN["75"]  # siao.75@demo.siao: sees the 150 Paris households

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


@dataclass(frozen=True, slots=True)
class Shape:
    """What one response holds (checked once, before the warm-up)."""

    households: int
    total_count: int
    leaf_fields: int


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
    households_per_response: int = 0
    leaf_fields_per_response: int = 0
    figures: Figures = field(default_factory=Figures)
    cpu: Cpu = field(default_factory=Cpu)  # during the measured window
    server_cpu_ms_per_request: float | None = None
    postgres_cpu_ms_per_request: float | None = None


async def check_shape(running: RunningServer, token: str, body: bytes) -> Shape:
    """One request before the load, to fail early and describe what is being measured."""
    async with client(running.base, token, 1) as http:
        response = await http.post("/graphql", content=body)
    parsed = parse_response(response.status_code, response.content)
    if parsed.error is not None:
        raise RuntimeError(f"the work list query fails: {parsed.error}")
    households = parsed.data["households"]
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
        leaf_fields=count_leaves(parsed.data),
    )


def print_report(report: Report) -> None:
    result = report.figures
    lines = [
        "",
        f"work list, first={report.first}: {report.households_per_response} households, "
        f"{report.leaf_fields_per_response} leaf fields, {result.mean_response_kb} KB",
        f"workers={report.workers} concurrency={report.concurrency} "
        f"seconds={report.seconds:g} (warm-up {report.warmup:g}) database={report.database}",
        f"python {report.python}, {report.cpu_count} CPUs, commit {report.git_commit}, "
        f"CPUs busy before the run {opt(report.busy_before_percent, '%')}",
        "",
        f"  requests/s        {result.requests_per_s:>9.1f}   ({result.requests} requests)",
        f"  latency p50       {result.p50_ms:>9.1f} ms",
        f"  latency p95       {result.p95_ms:>9.1f} ms",
        f"  latency p99       {result.p99_ms:>9.1f} ms   (max {result.max_ms:.1f})",
        f"  errors            {result.errors:>9d}   (HTTP statuses {result.statuses})",
        f"  response size     {result.mean_response_kb:>9.1f} KB",
        f"  SQL statements    {statements_line(result):>9}   per request",
        f"  SQL time (server) {opt(result.mean_sql_ms):>9} ms per request (mean, wall time: "
        "see README)",
        f"  server CPU        {opt(report.server_cpu_ms_per_request):>9} ms per request",
        f"  Postgres CPU      {opt(report.postgres_cpu_ms_per_request):>9} ms per request",
        *cpu_lines(report.cpu, report.workers, report.cpu_count),
    ]
    lines += [f"  error: {example}" for example in result.error_examples]
    if report.busy_before_percent is not None and report.busy_before_percent > BUSY_WARNING:
        lines.append(f"  warning: the CPUs were {report.busy_before_percent}% busy before the run")
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
        **machine(),
        workers=args.workers,
        concurrency=args.concurrency,
        seconds=args.seconds,
        warmup=args.warmup,
        first=args.first,
        database=kind,
        busy_before_percent=busy,
    )
    print(
        f"Server ready at {running.base} ({args.workers} worker(s)); "
        f"{args.warmup:g}s warm-up, then {args.seconds:g}s measured...",
        flush=True,
    )
    body = orjson.dumps({"query": QUERY, "variables": {"first": args.first}})
    shape = asyncio.run(check_shape(running, token, body))
    stream = Stream("work list", args.concurrency, lambda: (body, None, "work list"))
    window = asyncio.run(play(running, token, [stream], args.warmup, args.seconds))
    report.households_per_response = shape.households
    report.leaf_fields_per_response = shape.leaf_fields
    report.figures = figures(window.samples[stream.name], args.seconds)
    report.cpu = cpu(window, report.cpu_count)
    requests = report.figures.requests
    report.server_cpu_ms_per_request = report.cpu.ms_per_request(
        report.cpu.server_percent, window.seconds, requests
    )
    report.postgres_cpu_ms_per_request = report.cpu.ms_per_request(
        report.cpu.postgres_percent, window.seconds, requests
    )
    return report


def run(args: argparse.Namespace) -> Report:
    with workspace() as (data_dir, settings), database(data_dir) as db:
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
    result = report.figures
    return 0 if result.errors == 0 and result.requests > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
