"""What `siao bench run` reports, per scenario and for the run (written as JSON), and
how it prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.figures import Cpu, Figures, cpu_lines, opt, statements_line
from bench.machine import BUSY_WARNING
from bench.stat_statements import DbTime
from bench.traffic import Sample


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
    think: float  # mean pause of a measured loop after an answer, seconds (0: back to back)
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


def print_header(report: RunReport) -> None:
    floor = "" if report.stat_statements else " (database time n/a: see bench/README.md)"
    lines = [
        "",
        f"workers={report.workers} concurrency={report.concurrency} "
        + (f"think={report.think:g}s " if report.think else "")
        + f"seconds={report.seconds:g} (warm-up {report.warmup:g}, floor "
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
