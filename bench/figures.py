"""The figures of a measured window: the client's (latency percentiles, errors, SQL
statements per request) and where the CPU went, as numbers and as printed lines, with
the warnings that make a run worth doing again. Used by bench.throughput and bench.run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.traffic import Sample, Window

OTHERS_WARNING = 15.0  # percent of one core used by other processes during the run
POSTGRES_ALLOWANCE = 25.0  # added when Postgres is not measured: it is in "others"


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


def opt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


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
