"""`siao bench run` (bench.run): every scenario played against a real server for a
second, without error, at a statement count that does not grow with the answers; the
demands it creates are in the database; a failing scenario fails the run. Figures are
only reported, never asserted."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import asyncpg

from bench import scenarios
from bench.seed import seed
from bench.traffic import Stream
from models.demo import ADMIN_LOGIN, load_demo
from tests.test_bench_seed import NewDatabase
from tests.test_bench_seed import new_database as new_database  # the fixture
from tests.test_lifecycle import QUEUE
from tests.test_mutations import CREATE_DEMAND
from tests.test_record import TABS

REPO = Path(__file__).resolve().parents[1]
SHORT = ["--seconds", "1", "--warmup", "0.5", "--floor-seconds", "0.5", "--concurrency", "2"]
FIGURES = {"requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "errors"}
FIGURES |= {"error_examples", "sql_statements_min", "sql_statements_max"}


async def bench_run(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, Any]:
    """`python -m bench.run ARGS --json …` in a subprocess: (exit code, output, report)."""
    out = tmp_path / "report.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.run",
        *args,
        "--json",
        str(out),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    report = json.loads(out.read_text()) if out.exists() else None
    assert proc.returncode is not None
    return proc.returncode, output.decode(), report


async def count(sql: asyncpg.Connection, table: str) -> int:
    value = await sql.fetchval(f"SELECT count(*) FROM {table}")
    assert isinstance(value, int)
    return value


def test_the_bench_sends_the_documents_the_tests_check() -> None:
    # The record's tab documents are the bench's own (tests/test_record.py imports them):
    # every tab the bench plays has its statement count checked there.
    assert set(TABS) == set(scenarios.TABS)
    assert scenarios.QUEUE == QUEUE
    assert scenarios.CREATE_DEMAND == CREATE_DEMAND


def test_names_are_typed_as_heard_without_accents_with_one_typo() -> None:
    rng = random.Random(1)
    typed = [scenarios.mangle("Hélène", "Lefèvre", rng) for _ in range(40)]
    assert all(t.isascii() and t == t.lower() for t in typed)
    assert {t[0] for t in typed} == {"h", "l"}  # either order
    assert not {"helene lefevre", "lefevre helene"} & set(typed)  # one typo each
    assert scenarios.mangle("Li", "Wu", rng) in ("li wu", "wu li")  # too short for a typo


async def test_every_scenario_runs_without_error_at_a_fixed_cost(
    database_url: str, sql: asyncpg.Connection, tmp_path: Path
) -> None:
    started = await sql.fetchval("SELECT now()")  # the seeded demands are all older
    env = dict(os.environ, DATABASE_URL=database_url)
    code, output, report = await bench_run(
        tmp_path, env, "--scenario", "all", "--persons", "1500", *SHORT
    )
    assert code == 0, output
    assert await count(sql, "persons") == report["persons"] == 1500  # topped up from the demo's
    by_name = {s["scenario"]: s for s in report["scenarios"]}
    assert list(by_name) == ["record", "queue", "search", "create-demand"]
    for name, scenario in by_name.items():
        figures = scenario["figures"]
        assert set(figures) >= FIGURES, name
        assert figures["requests"] > 0, name
        assert figures["errors"] == 0, (name, figures["error_examples"])
        assert scenario["floor"]["requests"] > 0, name
        assert {"db", "cpu", "server_cpu_ms_per_request"} <= set(scenario), name
    # a tab may cost less when a relation has nothing to load, never more than its shape.
    # tests/test_record.py counts as the accompanying social worker, whose own user row is
    # already loaded when they wrote everything shown; the bench reads as the SIAO, for
    # whom the authors (`savedBy`, `author`) are one more statement, and the last change it
    # may see (`lastSavedAt`: it is not shown health saves) one more.
    record = by_name["record"]["documents"]
    assert set(record) == set(TABS)
    assert all(record[tab]["statements_max"] <= cost + 2 for tab, (_, cost) in TABS.items()), record
    for name in ("queue", "create-demand"):
        figures = by_name[name]["figures"]
        assert figures["sql_statements_min"] == figures["sql_statements_max"], name
    # a search that finds nobody skips its count (2 statements instead of 3)
    search = by_name["search"]["figures"]
    assert search["sql_statements_max"] == 3
    assert search["sql_statements_min"] in (2, 3)
    assert by_name["search"]["search_found_percent"] > 0
    created = by_name["create-demand"]
    assert created["demands_created"] == created["answers_ok"] > 0
    made = await sql.fetchval("SELECT count(*) FROM demands WHERE created_at >= $1", started)
    assert made == created["demands_created"]


async def test_create_demand_under_search_load_with_the_database_time(tmp_path: Path) -> None:
    # the tool's own embedded server, with pg_stat_statements: the database's time
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    code, output, report = await bench_run(
        tmp_path, env, "--scenario", "create-demand", "--background", "search:1", *SHORT
    )
    assert code == 0, output
    assert (report["database"], report["stat_statements"]) == ("embedded", True)
    (scenario,) = report["scenarios"]
    assert scenario["background"] == ["search:1"]
    search = scenario["background_figures"]["search (background)"]
    assert search["requests"] > 0
    assert search["errors"] == 0, search["error_examples"]
    assert scenario["figures"]["errors"] == 0
    assert scenario["demands_created"] == scenario["answers_ok"] > 0
    # the database sees every statement the server counted (and BEGIN, COMMIT...); the
    # window mixes both streams, the search being the cheaper
    window, alone = scenario["db"], scenario["floor"]["db"]
    assert window["statements_per_request"] >= search["sql_statements_min"]
    assert alone["statements_per_request"] >= scenario["figures"]["sql_statements_min"]
    for db in (window, alone):
        assert db["ms_per_request"] > 0
        assert db["top"], "the costliest statements are listed"


async def test_the_demo_joins_a_database_the_seed_filled_first(
    new_database: NewDatabase,
) -> None:
    # the README's order: `siao bench seed` into an empty database, then `siao bench run`,
    # which adds the demo data (its viewers) to the same territories
    url = await new_database()
    report = await seed(url, 40)
    assert await load_demo(url) != "already loaded"
    conn = await asyncpg.connect(url)
    try:
        persons = await conn.fetchval("SELECT count(*) FROM persons")
        admin = await conn.fetchval("SELECT count(*) FROM users WHERE login = $1", ADMIN_LOGIN)
        names = await conn.fetchval("SELECT name FROM territories WHERE code = '75'")
    finally:
        await conn.close()
    assert report.rows["persons"] == 40
    assert persons > 40
    assert admin == 1
    assert names == "Paris"


def test_loops_with_a_think_time_pause_around_it_each_their_own_way() -> None:
    back_to_back = Stream("search", 16, lambda: (b"", None, ""))
    assert {back_to_back.pauses(0)() for _ in range(3)} == {0.0}
    operators = Stream("search", 16, lambda: (b"", None, ""), think=2.0)
    first, second = operators.pauses(0), operators.pauses(1)
    draws = [first() for _ in range(4000)]
    assert 1.9 < sum(draws) / len(draws) < 2.1  # exponential around the mean asked
    assert min(draws) < 0.1 < 6.0 < max(draws)
    assert [second() for _ in range(3)] != draws[:3]  # operators do not pause in step
    again = operators.pauses(0)
    assert [again() for _ in range(3)] == draws[:3]  # the same from one run to the next


async def test_a_run_with_a_think_time_says_so(database_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=database_url)
    code, output, report = await bench_run(
        tmp_path, env, "--scenario", "search", "--think", "0.05", *SHORT
    )
    assert code == 0, output
    assert report["think"] == 0.05
    assert "think=0.05s" in output
    (scenario,) = report["scenarios"]
    assert scenario["figures"]["requests"] > 0


async def test_a_scenario_that_fails_fails_the_run(database_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=database_url)
    code, output, report = await bench_run(
        tmp_path, env, "--scenario", "search", "--login", "observer@demo.siao", *SHORT
    )
    assert code == 1
    assert "FORBIDDEN" in output
    assert report is None
