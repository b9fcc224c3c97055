"""The benchmark's data generator: a realistic French dataset, straight into PostgreSQL.

`await seed(url, persons)` adds, in ONE transaction, households of realistic sizes until
exactly `persons` new persons exist, with their memberships, accompaniments, demands,
concerned persons, notes, evaluations and audit events, to a database migrated to head
(the caller runs `migrations.upgrade(url)` first). Rows are built as tuples in Python and
sent with `COPY`, chunk by chunk, the next chunk generated while the server digests the
previous one (`bench.seed.load`). `vacuum(url)` then does what autovacuum would.

What the data looks like, and where it is drawn:
- `territories`: the territories (75, 93, 13, 69, 59 by default), per territory one SIAO
  operator and three associations with one social worker each; household references.
- `households` (names from `names`): households of 1 to 8 members whose ages fit their
  relationships, created in chronological order from 2022-01-03 to 2026-09; a few movers.
- `history`: accompaniments, demands (EMERGENCY and INSERTION), the persons they concern
  and audit events; then `notes` and `evaluations` (FLASH by the 115, DEEP by the social
  worker), each with its audit events. `state` holds what these share (ids, see there),
  `times` the instants, `values` the enum values as strings, `draw` the cheap draws.
The output depends only on `seed` and on what the database already holds.

Invariants. By default (`checks="sql"`) every trigger is off for the transaction and
`bench.seed.checks` checks the same rules and every foreign key set-based before COMMIT,
raising `SeedCheckFailed` (nothing committed) if one fails; `checks="triggers"` keeps the
triggers on. See that module for when "sql" falls back to the triggers.

Indexes. With `checks="sql"`, `bench.seed.indexes` drops the btree and GIN indexes that
back no constraint, and the exclusion constraint of memberships, of the tables that hold
no more rows than the seed adds (a quarter of them for the exclusion constraint), inside
the transaction, and builds them again from the catalog's own definitions when the load
ends, before the checks (the phase "index"). A build from all the rows costs PostgreSQL
less than maintaining the index row by row: at a million persons 3.4 s instead of 6.7 s
for the trigrams of the name key, 0.4 s instead of 2.8 s for the birth dates, 17 s instead
of 24 s for the exclusion constraint, its check of every row included. What a rebuild
would not bring back exactly is kept, and the tables are locked (ACCESS EXCLUSIVE) until
COMMIT; see that module.

Speed, on a 2-vCPU VM shared with other jobs, at a million persons into an empty
PostgreSQL 15 database: 10,200-10,300 persons/s (96.7-97.7 s, then 3.3 s of `vacuum`);
12,400-14,100 before the notes and evaluations. The single backend of the one transaction
is the bottleneck: 90.2 s of its CPU at a million persons (read from /proc), ~55 µs per
person in the load before the notes (the two GiST indexes of memberships, the computed and
trigram-indexed name key of persons, the btree indexes), ~17 µs more for the notes,
evaluations and their audit events (mostly the search vector PostgreSQL computes for each
note, ~29 µs a note), then the index builds and checks. Python needs 29.4 s of CPU on the
other core, with the cyclic garbage collector off during the load (it walked the growing
chunk again and again). Issue #6 asks for 20,000 persons/s: 90.2 + 29.4 s of CPU cannot
fit in 50 s on 2 cores (bench/README.md).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Final

import asyncpg

from bench.seed import indexes as seed_indexes
from bench.seed.checks import DERIVED, _check, _choose_checks
from bench.seed.load import (
    ROWS_PER_PERSON,
    TABLES,
    _deep_send_buffer,
    _Generator,
    _load,
    _without_cyclic_gc,
)
from bench.seed.report import Checks, Ids, SeedCheckFailed, SeedError, SeedReport
from bench.seed.territories import TERRITORY_CODE, _counters, _reference_range, _setup
from bench.seed.times import _fast_codecs

__all__ = ["Checks", "Ids", "SeedCheckFailed", "SeedError", "SeedReport", "seed", "vacuum"]


LOCK_KEY: Final = 7_593_000_002  # pg_advisory_xact_lock: two seeds run one after the other


async def seed(
    url: str,
    persons: int,
    *,
    seed: int = 1,
    territories: Sequence[str] = ("75", "93", "13", "69", "59"),
    checks: Checks = "sql",
    ids: Ids = "ordered",
) -> SeedReport:
    """Add `persons` persons, their households and history to the database at `url`
    (a `postgresql://` URL, migrated to head), in one transaction; see the module doc."""
    if persons < 0:
        raise ValueError("persons must be >= 0")
    codes = list(dict.fromkeys(territories))
    if not codes or any(not TERRITORY_CODE.match(code) for code in codes):
        raise ValueError(f"territory codes like 75, 2A or 971 expected, got {territories!r}")
    started = time.perf_counter()
    phases: dict[str, float] = {}
    rows = dict.fromkeys(TABLES, 0)
    conn = await asyncpg.connect(url, server_settings={"application_name": "siao-bench-seed"})
    try:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            missing = [
                table
                for table in TABLES
                if await conn.fetchval("SELECT to_regclass($1)", f"public.{table}") is None
            ]
            if missing:
                raise SeedError(f"tables {missing} missing: run the migrations first")
            checks = await _choose_checks(conn, checks)
            staff = await _setup(conn, codes, rows)
            counters = await _counters(conn, codes)
            await _fast_codecs(conn)
            _deep_send_buffer(conn)
            rng = random.Random(f"siao-bench:{seed}:{sorted(counters.items())}")
            first = dict(counters)
            generator = _Generator(rng, staff, counters, persons, ids)
            deferred: list[seed_indexes.Deferred] = []
            if checks == "sql":  # pending trigger events would forbid the rebuild
                added = {table: round(persons * n) for table, n in ROWS_PER_PERSON.items()}
                deferred = await seed_indexes.defer(conn, added)
            phases["setup"] = time.perf_counter() - started
            tick = time.perf_counter()
            busy = dict.fromkeys(("generate", "copy"), 0.0)
            with _without_cyclic_gc():
                await _load(conn, generator, persons, rows, busy)
            phases["load"] = time.perf_counter() - tick
            phases.update(busy)
            tick = time.perf_counter()
            await seed_indexes.rebuild(conn, deferred)
            phases["index"] = time.perf_counter() - tick
            if checks == "sql":
                tick = time.perf_counter()
                for statement in DERIVED.values():
                    await conn.execute(statement)
                phases["derive"] = time.perf_counter() - tick
                tick = time.perf_counter()
                await _check(conn)
                phases["check"] = time.perf_counter() - tick
            tick = time.perf_counter()
        except BaseException:
            try:
                await asyncio.wait_for(transaction.rollback(), 30)
            except Exception:
                conn.terminate()  # the server rolls back when the connection drops
            raise
        await transaction.commit()
        phases["commit"] = time.perf_counter() - tick
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    references = {}
    for code in codes:
        if counters[code] > first[code]:
            prefix, _, _, digits = _reference_range(code)
            references[code] = (
                f"{prefix}{first[code]:0{digits}d}",
                f"{prefix}{counters[code] - 1:0{digits}d}",
            )
    return SeedReport(
        rows=rows,
        seconds=round(seconds, 3),
        persons_per_second=round(rows["persons"] / seconds, 1) if seconds else 0.0,
        checks=checks,
        phases={name: round(s, 3) for name, s in phases.items()},
        references=references,
        movers=generator.movers,
        ids=ids,
    )


async def vacuum(url: str) -> float:
    """`VACUUM (ANALYZE)` of every table the seed writes (and the dictionary of name words
    it derives), after its COMMIT: what autovacuum would do minutes later, in the middle of
    a benchmark (the visibility map set, the GIN pending lists flushed, statistics at the
    server's target instead of the load's coarse ones). Returns the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(dict.fromkeys((*TABLES, *DERIVED)))}")
    finally:
        await conn.close()
    return time.perf_counter() - started
