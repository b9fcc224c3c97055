"""The invariants of the loaded rows, checked set-based instead of row by row.

The deferred constraint triggers (every person has an open membership, an active
household a current member, a demand concerns members of its household; the append-only
trigger of evaluations fires on UPDATE only, which the seed never does) and the foreign
keys (triggers too) would check every row one by one: at 200,000 persons that is about
190 s of PostgreSQL CPU at COMMIT, against 10 s for the whole load without them. So by
default (`checks="sql"`) the load runs with `SET LOCAL session_replication_role =
replica` (every trigger off, for this transaction only), then checks the same rules and
every foreign key of the loaded tables with set-based SQL before COMMIT (about 1.5 s at
200,000 persons, 9 s at a million), and raises `SeedCheckFailed`, rolling everything back,
if one fails. Primary keys, unique and CHECK constraints are enforced as usual, and
exclusion constraints too, on every row at once when the load ends (see
`bench.seed.indexes`). `checks="triggers"` keeps the triggers on. So does `checks="sql"`
(with a warning) when the role may not set `session_replication_role` (not a superuser),
or when a loaded table carries a trigger not in `KNOWN_TRIGGERS`, or one whose function's
source changed since these checks were written (it would be skipped, or checked against
the old rule).
"""

from __future__ import annotations

import logging
import time
from typing import Final

import asyncpg

from bench.seed.load import TABLES
from bench.seed.report import Checks, SeedCheckFailed

log = logging.getLogger(__name__)

# The triggers on the loaded tables that `checks="sql"` may switch off, since it checks
# the same rules itself: trigger -> (function, md5 of its source) as of migration 0015.
# A trigger or a function body that is not here (a later migration changed a rule) keeps
# every trigger on: update INVARIANT_CHECKS, then these fingerprints.
KNOWN_TRIGGERS: Final = {
    "person_has_open_membership": (
        "check_person_has_open_membership",
        "3ca7f6fe5f265cea9b90eb0e87b06e0e",
    ),
    "membership_keeps_person_housed": (
        "check_person_has_open_membership",
        "3ca7f6fe5f265cea9b90eb0e87b06e0e",
    ),
    "household_has_member": ("check_household_has_member", "3785a160a89e93d51c62f77fe22b8f54"),
    "membership_keeps_household_populated": (
        "check_household_has_member",
        "3785a160a89e93d51c62f77fe22b8f54",
    ),
    "demand_person_is_member": (
        "check_demand_person_is_member",
        "98891213e2ea22d201eadb9fd0b314e3",
    ),
    "demand_concerns_someone": (
        "check_demand_concerns_someone",
        "f1b27cc5a8d02d58d6d9e230c85a2ca9",
    ),
    "demand_keeps_someone": ("check_demand_concerns_someone", "f1b27cc5a8d02d58d6d9e230c85a2ca9"),
    # Migration 0006: refuses UPDATEs of evaluations; the seed only inserts (COPY), which
    # it never sees, so there is nothing for INVARIANT_CHECKS to check in its stead.
    "evaluations_append_only": ("evaluations_append_only", "8652740e19f7f7bfc4d3f91911a8c33c"),
    # Migration 0015: not rules but derived data (the search's dictionary of name words
    # per territory), which DERIVED writes instead.
    "memberships_name_words_added": (
        "memberships_learn_name_words",
        "ef2fd53304a6cfb8617bd6ba78c37332",
    ),
    "membership_name_words_changed": ("membership_name_words", "3b82ad9ab4093d48518c3f146fa28aca"),
    "membership_name_words_deleted": ("membership_name_words", "3b82ad9ab4093d48518c3f146fa28aca"),
    "person_name_words_changed": ("person_name_words", "42c09df8e586fa3130026abe0888c07c"),
    "household_name_words_changed": ("household_name_words", "b3a13ace8271f57d2c0bf0d0fd9138de"),
    # Migration 0014: not a rule but derived data (a person's identity as it was when a
    # membership closed), which DERIVED writes instead.
    "membership_identity_at_end": (
        "membership_identity_at_end",
        "fd1e6f3073a36209a2b21acc3817ec12",
    ),
}
# What the switched-off triggers that keep derived data would have written, set-based:
# table written -> statement (the seed vacuums these tables with the loaded ones).
DERIVED: Final = {
    # Every word of every person whose current household is not protected, in the
    # household's territory (the seed only adds persons: no word of a territory loses its
    # last bearer, so nothing is removed). Unnest in the select list: a third faster than
    # a lateral join at a million persons.
    "name_words": """
        INSERT INTO name_words (territory_code, word)
        SELECT DISTINCT territory_code, w FROM (
            SELECT h.territory_code, unnest(p.name_words) AS w
            FROM persons p
            JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
            JOIN households h ON h.id = m.household_id AND NOT h.protected
        ) AS words
        WHERE w <> ''
        ON CONFLICT DO NOTHING
    """,
    # The identity each person had when a membership closed: the seed writes persons as
    # they are at the end of their story, so it is the person row itself.
    "memberships": """
        UPDATE memberships m SET identity_at_end = jsonb_build_object(
            'first_name', p.first_name, 'last_name', p.last_name,
            'usage_name', p.usage_name, 'birth_date', p.birth_date, 'sex', p.sex,
            'nationality', p.nationality, 'phone', p.phone, 'version', p.version,
            'created_at', p.created_at, 'updated_at', p.updated_at)
        FROM persons p
        WHERE p.id = m.person_id AND NOT upper_inf(m.validity) AND m.identity_at_end IS NULL
    """,
}
# The invariants the deferred triggers enforce, as set-based queries returning the number
# of offending rows (each must return 0).
INVARIANT_CHECKS: Final = {
    "person_has_open_membership": """
        SELECT count(*) FROM persons p WHERE p.merged_into_id IS NULL AND NOT EXISTS (
            SELECT 1 FROM memberships m WHERE m.person_id = p.id AND upper_inf(m.validity))
    """,
    "household_has_member": """
        SELECT count(*) FROM households h WHERE h.closed_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM memberships m WHERE m.household_id = h.id AND upper_inf(m.validity))
    """,
    "demand_concerns_someone": """
        SELECT count(*) FROM demands d WHERE NOT EXISTS (
            SELECT 1 FROM demand_persons dp WHERE dp.demand_id = d.id)
    """,
    "demand_person_is_member": """
        SELECT count(*) FROM demand_persons dp JOIN demands d ON d.id = dp.demand_id
        WHERE NOT EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.person_id = dp.person_id AND m.household_id = d.household_id
              AND m.validity @> d.created_at)
    """,
}


async def _choose_checks(conn: asyncpg.Connection[asyncpg.Record], wanted: Checks) -> Checks:
    """Switch the triggers off for this transaction when `wanted` is "sql" and it is safe:
    the role may do it and the loaded tables carry no trigger this module does not know."""
    if wanted == "triggers":
        return "triggers"
    triggers = await conn.fetch(
        """
        SELECT t.tgrelid::regclass::text AS "table", t.tgname AS name, p.proname AS function,
               md5(p.prosrc) AS source
        FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
        """,
        list(TABLES),
    )
    unknown = [
        f"{t['table']}.{t['name']} ({t['function']})"
        for t in triggers
        if KNOWN_TRIGGERS.get(t["name"]) != (t["function"], t["source"])
    ]
    if unknown:
        log.warning(
            "triggers unknown to bench.seed, or changed since it was written: %s; keeping "
            "every trigger on (slow). Update bench.seed's INVARIANT_CHECKS and KNOWN_TRIGGERS.",
            ", ".join(unknown),
        )
        return "triggers"
    try:
        async with conn.transaction():  # a savepoint: a refusal must not abort the load
            await conn.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        log.warning("may not set session_replication_role: keeping every trigger on")
        return "triggers"
    return "sql"


async def _check(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What the switched-off triggers would have checked, for every row of the loaded
    tables, set-based: the invariants of migration 0001 and every foreign key (one scan
    per table, whatever foreign keys later migrations add)."""
    # Statistics first: without them the planner guesses the sizes of tables that were
    # empty, and may join a million rows by nested loops.
    tick = time.perf_counter()
    await conn.execute("SET LOCAL default_statistics_target = 10")  # enough to plan joins
    await conn.execute(f"ANALYZE {', '.join(TABLES)}")
    await conn.execute("RESET default_statistics_target")
    log.debug("analyze: %.2fs", time.perf_counter() - tick)
    await conn.execute("SET LOCAL work_mem = '256MB'")
    queries = dict(INVARIANT_CHECKS)
    foreign_keys: dict[str, list[asyncpg.Record]] = {}
    for fk in await conn.fetch(
        """
        SELECT c.conname AS name, c.conrelid::regclass::text AS child,
               c.confrelid::regclass::text AS parent,
               array(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     ORDER BY k.i) AS columns,
               array(SELECT quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                     ORDER BY k.i) AS referenced
        FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY($1::regclass[])
        ORDER BY 2, 1
        """,
        list(TABLES),
    ):
        foreign_keys.setdefault(fk["child"], []).append(fk)
    for child, fks in foreign_keys.items():
        # child LEFT JOIN each parent on its key: a row whose key is set but found no
        # parent breaks that foreign key.
        joins, counts = [], []
        for n, fk in enumerate(fks):
            pairs = list(zip(fk["columns"], fk["referenced"], strict=True))
            match = " AND ".join(f"p{n}.{ref} = t.{column}" for column, ref in pairs)
            joins.append(f"LEFT JOIN {fk['parent']} p{n} ON {match}")
            present = " AND ".join(f"t.{column} IS NOT NULL" for column, _ in pairs)
            counts.append(f"count(*) FILTER (WHERE {present} AND p{n}.{pairs[0][1]} IS NULL)")
        queries[f"foreign keys of {child}"] = (
            f"SELECT ARRAY[{', '.join(counts)}] FROM {child} t {' '.join(joins)}"
        )
    names = {
        f"foreign keys of {child}": [fk["name"] for fk in fks]
        for child, fks in foreign_keys.items()
    }
    failures: dict[str, int] = {}
    for name, query in queries.items():
        tick = time.perf_counter()
        bad = await conn.fetchval(query)
        log.debug("check %s: %s offending rows in %.2fs", name, bad, time.perf_counter() - tick)
        if name in names:
            failures.update((fk, n) for fk, n in zip(names[name], bad, strict=True) if n)
        elif bad:
            failures[name] = bad
    if failures:
        raise SeedCheckFailed(f"invariants broken, nothing committed: {failures}")
