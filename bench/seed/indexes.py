"""The indexes `bench.seed` builds after its COPY instead of maintaining them row by row.

Inside the seed's one transaction, `defer` drops some indexes of the loaded tables, and
`rebuild` creates them again once the rows are in, before the checks and the COMMIT, each
from its own definition as the catalog prints it (`pg_get_indexdef`,
`pg_get_constraintdef`): same name, same definition, whatever migration created it. On any
failure the transaction rolls back, the drops with it.

What is dropped, from what was measured at a million persons on PostgreSQL 15 (seconds of
the server's CPU, maintained row by row during COPY / built once at the end):

- btree and GIN indexes that back no constraint: GIN `persons.name_key` trigrams 6.7 / 3.4,
  `persons.name_words` 2.9 / 1.5; btree 0.1-2.8 / 0.04-1.0 each, the worst row by row
  those whose keys come in no order (`persons.birth_date` 2.8 / 0.4, `audit_events`'
  entity 2.0 / 0.5). When the table holds no more rows than the seed adds.
- Exclusion constraints (`memberships.membership_no_overlap`): 23.6 / 17.2. Adding the
  constraint back builds its index and checks every row against the others, the check the
  inserts made one by one: an overlap fails the seed, nothing committed. Only when the
  table holds at most a quarter of the rows added (the build reads the rows already there).

What is kept:
- Other GiST indexes (`memberships` by household and validity: 10.2 / 13.5). PostgreSQL
  15 builds these by inserting every row anyway (no sorted build for `btree_gist`'s uuid
  or for ranges), without the order in which the load brings them.
- Primary keys and unique constraints: they check every row as it comes, and foreign keys
  depend on them.
- Whatever its printed definition would not bring back exactly: unique, invalid,
  clustered or replica-identity indexes, one with a comment, a tablespace of its own, a
  column statistics target or an extension owning it, an inherited constraint, an
  exclusion constraint whose index is named otherwise, and any definition that reads back
  as something else (see `_reproducible`: the partial indexes of the waiting demands).
- Everything when the triggers check the rows (`checks="triggers"`): their pending events
  forbid CREATE INDEX and ALTER TABLE on the table until COMMIT.

Dropping locks the table (ACCESS EXCLUSIVE) until COMMIT: a seed waits at most `LOCK_WAIT`
for other sessions to let go of the tables, then keeps every index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import asyncpg

log = logging.getLogger(__name__)

BULK_METHODS: Final = ("btree", "gin")  # whose bulk build beats the row-by-row inserts
INDEXES_UP_TO: Final = 1.0  # drop a table's indexes when it holds <= this x the rows added
EXCLUSIONS_UP_TO: Final = 0.25  # ... its exclusion constraints
LOCK_WAIT: Final = "2s"
# Per build, this transaction only: enough for two parallel workers to sort in memory (a
# GIN build at a million persons takes as long with 64 MB as with 2 GB).
MAINTENANCE_WORK_MEM: Final = "256MB"


@dataclass(frozen=True)
class Deferred:
    """An index or an exclusion constraint dropped for the load."""

    kind: Literal["index", "exclusion"]
    table: str  # as a regclass prints it
    name: str
    relation: str  # the index, as a regclass prints it
    body: str  # its definition past "... USING " (index) or "ADD CONSTRAINT name " (exclusion)
    printed: str  # what `PRINTED` shows of it, the same before and after

    @property
    def drop(self) -> str:
        if self.kind == "index":
            return f"DROP INDEX {self.relation}"
        return f"ALTER TABLE {self.table} DROP CONSTRAINT {_ident(self.name)}"

    def create(self, table: str | None = None, name: str | None = None) -> str:
        """The statement that creates it, or the same one on a copy of its table."""
        table, name = table or self.table, _ident(name or self.name)
        if self.kind == "index":
            return f"CREATE INDEX {name} ON {table} USING {self.body}"
        return f"ALTER TABLE {table} ADD CONSTRAINT {name} {self.body}"


INDEXES: Final = """
    SELECT t.oid::regclass::text AS "table", i.relname AS name, x.indexrelid AS oid,
           x.indexrelid::regclass::text AS relation, pg_get_indexdef(x.indexrelid) AS definition,
           'CREATE INDEX ' || quote_ident(i.relname) || ' ON ' || quote_ident(n.nspname) || '.'
               || quote_ident(t.relname) || ' USING ' AS head
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = i.relam
    WHERE x.indrelid = ANY($1::regclass[])
      AND am.amname = ANY($2::text[])
      AND NOT x.indisunique AND NOT x.indisprimary AND NOT x.indisexclusion
      AND x.indisvalid AND x.indisready AND x.indislive
      AND NOT x.indisclustered AND NOT x.indisreplident
      AND i.reltablespace = 0 AND i.relnamespace = t.relnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
      AND NOT EXISTS (
          SELECT 1 FROM pg_description d
          WHERE d.classoid = 'pg_class'::regclass AND d.objoid = x.indexrelid)
      AND NOT EXISTS (
          SELECT 1 FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indexrelid
            AND d.deptype IN ('e', 'x'))
      AND NOT EXISTS (
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = x.indexrelid AND a.attstattarget >= 0)
    ORDER BY 1, 2
"""
EXCLUSIONS: Final = """
    SELECT t.oid::regclass::text AS "table", c.conname AS name, c.conindid AS oid,
           c.conindid::regclass::text AS relation, pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_class i ON i.oid = c.conindid
    JOIN pg_index x ON x.indexrelid = c.conindid
    WHERE c.contype = 'x' AND c.conrelid = ANY($1::regclass[])
      AND c.conislocal AND c.coninhcount = 0
      AND i.relname = c.conname AND i.reltablespace = 0
      AND x.indisvalid AND NOT x.indisclustered AND NOT x.indisreplident
      AND NOT EXISTS (
          SELECT 1 FROM pg_description d
          WHERE (d.classoid = 'pg_constraint'::regclass AND d.objoid = c.oid)
             OR (d.classoid = 'pg_class'::regclass AND d.objoid = c.conindid))
      AND NOT EXISTS (
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conindid AND a.attstattarget >= 0)
    ORDER BY 1, 2
"""
# What the catalog prints of an index past its name and table, and of the exclusion
# constraint it backs: " USING btree (person_id) INCLUDE (household_id) WHERE ...".
PRINTED: Final = """
    SELECT substr(pg_get_indexdef(x.indexrelid), strpos(pg_get_indexdef(x.indexrelid), ' USING '))
           || coalesce(' / ' || pg_get_constraintdef(c.oid), '')
    FROM pg_index x LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype = 'x'
    WHERE x.indexrelid = $1
"""


async def defer(
    conn: asyncpg.Connection[asyncpg.Record], added: Mapping[str, int]
) -> list[Deferred]:
    """Drop the indexes and exclusion constraints of the tables of `added` (table -> rows
    the seed will add) that `rebuild` will build faster once the rows are in; what was
    dropped. To be called inside the seed's transaction, before its first COPY."""
    for_indexes, for_exclusions = [], []
    for table, rows in added.items():
        if rows <= 0:
            continue
        # At most `rows` + 1 rows read: enough to know whether the table holds more.
        held = await conn.fetchval(
            f"SELECT count(*) FROM (SELECT FROM {table} LIMIT $1) AS t", rows + 1
        )
        if held <= INDEXES_UP_TO * rows:
            for_indexes.append(table)
        if held <= EXCLUSIONS_UP_TO * rows:
            for_exclusions.append(table)
    candidates = []
    for r in await conn.fetch(INDEXES, for_indexes, list(BULK_METHODS)):
        if r["definition"].startswith(r["head"]):  # else a form not foreseen: kept
            body = r["definition"][len(r["head"]) :]
            printed = await conn.fetchval(PRINTED, r["oid"])
            candidates.append(
                Deferred("index", r["table"], r["name"], r["relation"], body, printed)
            )
    for r in await conn.fetch(EXCLUSIONS, for_exclusions):
        printed = await conn.fetchval(PRINTED, r["oid"])
        candidates.append(
            Deferred("exclusion", r["table"], r["name"], r["relation"], r["definition"], printed)
        )
    deferred = await _reproducible(conn, candidates)
    if not deferred:
        return []
    try:
        async with conn.transaction():  # a savepoint: a lock not granted keeps everything
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            for item in deferred:
                await conn.execute(item.drop)
    except (asyncpg.LockNotAvailableError, asyncpg.DependentObjectsStillExistError) as e:
        log.warning(
            "keeping the indexes of %s during the load (slower): %s",
            ", ".join(sorted({item.table for item in deferred})),
            e,
        )
        return []
    finally:
        await conn.execute("RESET lock_timeout")
    return deferred


async def rebuild(conn: asyncpg.Connection[asyncpg.Record], deferred: list[Deferred]) -> None:
    """Create the `deferred` indexes and constraints again, in the same transaction, and
    make sure that the catalog prints each as before."""
    if not deferred:
        return
    await conn.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    for item in deferred:
        tick = time.perf_counter()
        await conn.execute(item.create())
        log.debug("built %s %s in %.2fs", item.table, item.name, time.perf_counter() - tick)
        oid = await conn.fetchval("SELECT $1::regclass::oid", item.relation)
        printed = await conn.fetchval(PRINTED, oid)
        if printed != item.printed:  # _reproducible tried it: not expected
            raise RuntimeError(f"{item.name} rebuilt as {printed!r}, not {item.printed!r}")
    await conn.execute("RESET maintenance_work_mem")


async def _reproducible(
    conn: asyncpg.Connection[asyncpg.Record], candidates: list[Deferred]
) -> list[Deferred]:
    """The candidates that their printed definition creates again exactly as they are.

    Not all do: PostgreSQL prints `status IN ('A', 'B')` on a varchar column as
    `(status)::text = ANY ((ARRAY['A'::character varying, ...])::text[])` and reads that
    back as another expression, `ARRAY[('A'::character varying)::text, ...]`, printed so
    (equivalent, but no longer the migration's). Each candidate is created on an empty
    copy of its table, in a savepoint rolled back at the end, and kept in place when the
    catalog prints the copy otherwise."""
    if not candidates:
        return []
    found = []
    probe = conn.transaction()
    await probe.start()
    try:
        copies: dict[str, str] = {}
        for n, item in enumerate(candidates):
            if item.table not in copies:
                copies[item.table] = f"pg_temp.seed_probe_{len(copies)}"
                try:
                    async with conn.transaction():
                        await conn.execute(
                            f"CREATE TEMP TABLE {copies[item.table]} (LIKE {item.table})"
                        )
                except asyncpg.PostgresError as e:  # no TEMP privilege...: keep everything
                    log.warning("keeping every index during the load (slower): %s", e)
                    return []
            name = f"seed_probe_index_{n}"
            try:
                async with conn.transaction():
                    await conn.execute(item.create(copies[item.table], name))
                    oid = await conn.fetchval("SELECT $1::regclass::oid", f"pg_temp.{name}")
                    printed = await conn.fetchval(PRINTED, oid)
            except asyncpg.PostgresError as e:
                log.debug("keeping %s %s: %s", item.table, item.name, e)
                continue
            if printed == item.printed:
                found.append(item)
            else:
                log.debug("keeping %s %s: read back as %s", item.table, item.name, printed)
    finally:
        await probe.rollback()
    return found


def _ident(name: str) -> str:
    """`name` quoted as an SQL identifier, always (what quote_ident does when it must)."""
    return '"' + name.replace('"', '""') + '"'
