"""The database's own time over a window of `siao bench run`, per request, from
pg_stat_statements: its counters at both ends of the window, and the costliest statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

TOP_STATEMENTS = 5


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
