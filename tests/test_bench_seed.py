"""The benchmark's data generator (`bench.seed`): what it writes holds the domain's
invariants, the counts it reports are the tables', and a seed gives the same persons."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from bench.seed import SeedCheckFailed, SeedReport, seed
from bench.seed import indexes as seed_indexes
from bench.seed.evaluations import CRITERIA_ORDER, FAMILY_TEXTS
from bench.seed.load import _Generator
from bench.seed.state import Stint, _Chunk
from bench.seed.times import END
from bench.seed.values import ISOLATED
from migrations import upgrade
from tests.conftest import Databases, _admin, _plain

PERSONS = 2_000

NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture
async def new_database(databases: Databases) -> AsyncIterator[NewDatabase]:
    """Makes empty databases migrated to head (no demo data); drops them all at the end,
    whatever happened."""
    names: list[str] = []

    async def make() -> str:
        name = f"siao_seed_{uuid.uuid4().hex[:12]}"
        names.append(name)
        await _admin(databases.server_url, f'CREATE DATABASE "{name}"')
        url = _plain(databases.url(name))
        upgrade(url)
        return url

    try:
        yield make
    finally:
        for name in names:
            await _admin(databases.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _persons_digest(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        digest = await conn.fetchval(
            "SELECT md5(string_agg(concat_ws('|', id, first_name, last_name, usage_name, "
            "birth_date, sex), ',' ORDER BY id)) FROM persons"
        )
    finally:
        await conn.close()
    assert isinstance(digest, str)
    return digest


async def _count(conn: asyncpg.Connection, query: str) -> int:
    value = await conn.fetchval(query)
    assert isinstance(value, int), query
    return value


# The search's dictionary against the words of the persons each territory may search
# (current members of its unprotected households): words missing, and words left over.
SEARCHABLE_WORDS = """
    SELECT h.territory_code, w FROM persons p
    JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
    JOIN households h ON h.id = m.household_id AND NOT h.protected,
    unnest(p.name_words) AS w WHERE w <> ''
"""
MISSING_WORDS = f"""
    SELECT count(*) FROM ({SEARCHABLE_WORDS}
      EXCEPT SELECT territory_code, word FROM name_words) AS missing
"""
EXTRA_WORDS = f"""
    SELECT count(*) FROM (SELECT territory_code, word FROM name_words
      EXCEPT {SEARCHABLE_WORDS}) AS extra
"""


async def test_seed_writes_a_consistent_realistic_dataset(new_database: NewDatabase) -> None:
    url = await new_database()
    report = await seed(url, PERSONS)
    assert isinstance(report, SeedReport)
    assert report.checks == "sql"  # the test server's role is a superuser
    conn = await asyncpg.connect(url)
    try:
        assert await _count(conn, "SELECT count(*) FROM persons") == PERSONS
        # The counts reported are the tables' (the database was empty).
        for table, rows in report.rows.items():
            assert await _count(conn, f"SELECT count(*) FROM {table}") == rows, table
        assert report.rows["persons"] == PERSONS
        assert report.persons_per_second > 0
        assert gc.isenabled()  # off for the load only
        # The search's dictionary knows every name word of each territory's searchable
        # persons, and no other (the triggers that keep it were off).
        assert await _count(conn, MISSING_WORDS) == 0
        assert await _count(conn, EXTRA_WORDS) == 0
        assert await _count(conn, "SELECT count(*) FROM name_words") > 0
        # Every closed membership keeps the identity the household left behind may see,
        # and no open one has any (its trigger was off too).
        assert await _count(conn, "SELECT count(*) FROM memberships WHERE NOT upper_inf(validity)")
        assert not await _count(
            conn,
            "SELECT count(*) FROM memberships WHERE (identity_at_end IS NULL) <> "
            "upper_inf(validity)",
        )
        # Every person has exactly one open membership.
        assert not await _count(
            conn,
            """
            SELECT count(*) FROM persons p WHERE (
                SELECT count(*) FROM memberships m
                WHERE m.person_id = p.id AND upper_inf(m.validity)) <> 1
            """,
        )
        # About 2% moved: a closed membership elsewhere, ending when the open one begins.
        moved = await conn.fetch(
            """
            SELECT o.person_id, upper(c.validity) = lower(o.validity) AS gap_free,
                   c.household_id <> o.household_id AS elsewhere
            FROM memberships c JOIN memberships o
              ON o.person_id = c.person_id AND upper_inf(o.validity)
            WHERE NOT upper_inf(c.validity)
            """
        )
        assert 0.01 * PERSONS <= len(moved) <= 0.04 * PERSONS
        assert all(r["gap_free"] and r["elsewhere"] for r in moved)
        # Every household is active, with 1 to 8 current members, mostly 1 to 3.
        sizes = await conn.fetch(
            """
            SELECT h.closed_at, count(m.id) AS size FROM households h
            LEFT JOIN memberships m ON m.household_id = h.id AND upper_inf(m.validity)
            GROUP BY h.id
            """
        )
        assert all(r["closed_at"] is None and 1 <= r["size"] <= 8 for r in sizes)
        assert sum(r["size"] for r in sizes) == PERSONS
        assert sum(1 for r in sizes if r["size"] <= 3) > 0.7 * len(sizes)
        assert max(r["size"] for r in sizes) >= 6
        # References: unique, 10 digits, out of the demo's and the sequence's ranges.
        references = [r["reference"] for r in await conn.fetch("SELECT reference FROM households")]
        assert len(set(references)) == len(references)
        assert all(len(r) == 10 and r.isdigit() and int(r[2:]) >= 50_000_000 for r in references)
        # Every demand concerns someone, and only members of its household at that time.
        assert not await _count(
            conn,
            "SELECT count(*) FROM demands d WHERE NOT EXISTS "
            "(SELECT 1 FROM demand_persons dp WHERE dp.demand_id = d.id)",
        )
        assert not await _count(
            conn,
            """
            SELECT count(*) FROM demand_persons dp JOIN demands d ON d.id = dp.demand_id
            WHERE NOT EXISTS (
                SELECT 1 FROM memberships m
                WHERE m.person_id = dp.person_id AND m.household_id = d.household_id
                  AND m.validity @> d.created_at)
            """,
        )
        kinds = await conn.fetch("SELECT DISTINCT kind FROM demands")
        assert {r["kind"] for r in kinds} == {"EMERGENCY", "INSERTION"}
        assert await _count(conn, "SELECT count(DISTINCT status) FROM demands") >= 6
        demands = report.rows["demands"] / report.rows["households"]
        assert 1.3 <= demands <= 1.7
        assert 0.2 <= report.rows["accompaniments"] / report.rows["households"] <= 0.4
        # A CREATE audit event per household, demand, note and evaluation; a PIN or DELETE
        # per pinned or deleted note.
        changed = await _count(
            conn,
            "SELECT count(*) FILTER (WHERE pinned_at IS NOT NULL) "
            "+ count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM notes",
        )
        assert report.rows["audit_events"] == changed + sum(
            report.rows[table] for table in ("households", "demands", "notes", "evaluations")
        )
        # Ages fit relationships: children at least 14 years younger than the reference
        # person, parents at least 14 years older.
        assert not await _count(
            conn,
            """
            SELECT count(*) FROM memberships m
            JOIN persons p ON p.id = m.person_id
            JOIN memberships r ON r.household_id = m.household_id
              AND r.relationship = 'REFERENCE_PERSON' AND upper_inf(r.validity)
            JOIN persons rp ON rp.id = r.person_id
            WHERE (m.relationship = 'CHILD' AND p.birth_date < rp.birth_date + 14 * 365)
               OR (m.relationship = 'PARENT' AND p.birth_date > rp.birth_date - 14 * 365)
            """,
        )
        # French names: accents, compound names, common names that repeat.
        names = await conn.fetch("SELECT first_name, last_name FROM persons")
        assert any(
            n["first_name"] != n["first_name"].encode("ascii", "ignore").decode() for n in names
        )
        assert any("-" in n["first_name"] for n in names)
        assert any("-" in n["last_name"] or " " in n["last_name"] for n in names)
        assert (
            await _count(
                conn,
                "SELECT max(n) FROM "
                "(SELECT count(*) AS n FROM persons GROUP BY lower(last_name)) AS c",
            )
            >= 15
        )
    finally:
        await conn.close()


# Rows (each query counts those breaking a rule; every count must be 0) --------------------
NOTE_RULES = {
    # A note concerns members of its household, present when it was written.
    "concerned persons are members": """
        SELECT count(*) FROM note_persons np JOIN notes n ON n.id = np.note_id
        WHERE NOT EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.person_id = np.person_id AND m.household_id = n.household_id
              AND m.validity @> n.created_at)
    """,
    # Written by the territory's SIAO or by a social worker of an association accompanying
    # the household at the time (whoever else could not even see it).
    "authors may write it": """
        SELECT count(*) FROM notes n
        JOIN households h ON h.id = n.household_id JOIN users u ON u.id = n.created_by
        WHERE NOT (
            (u.role = 'SIAO_OPERATOR' AND u.territory_code = h.territory_code)
            OR (u.role = 'SOCIAL_WORKER' AND EXISTS (
                SELECT 1 FROM accompaniments a
                WHERE a.household_id = n.household_id AND a.organisation_id = u.organisation_id
                  AND a.validity @> n.created_at)))
    """,
    "dated after the household, before the end": f"""
        SELECT count(*) FROM notes n JOIN households h ON h.id = n.household_id
        WHERE n.created_at <= h.created_at OR n.created_at >= '{END.isoformat()}'
           OR n.updated_at <> coalesce(n.deleted_at, n.created_at)
           OR n.deleted_at <= n.created_at OR n.deleted_at >= '{END.isoformat()}'
    """,
    "deleted by their author, pinned for a while": """
        SELECT count(*) FROM notes
        WHERE deleted_by <> created_by OR pinned_by <> created_by
           OR pinned_until <= pinned_at OR (pinned_at IS NULL) <> (pinned_by IS NULL)
           OR title ~ '[\n\t]' OR version <> 1
    """,
    # Its audit events, as resolvers.note_write writes them.
    "one CREATE event each, with its text and concerned persons": """
        SELECT count(*) FROM notes n WHERE (
            SELECT count(*) FROM audit_events a
            WHERE a.entity_type = 'Note' AND a.entity_id = n.id AND a.action = 'CREATE'
              AND a.actor_id = n.created_by AND a.at = n.created_at
              AND a.household_id = n.household_id
              AND a.changes->'title' = jsonb_build_object('before', null, 'after', n.title)
              AND a.changes->'body' = jsonb_build_object('before', null, 'after', n.body)
              AND a.changes->'concernedPersons'->'before' = 'null'
              AND a.changes->'concernedPersons'->'after' = (
                  SELECT coalesce(jsonb_agg(np.person_id ORDER BY np.person_id), '[]')
                  FROM note_persons np WHERE np.note_id = n.id)
              AND (SELECT count(*) FROM jsonb_object_keys(a.changes)) = 3) <> 1
    """,
    "a PIN event per pinned note, a DELETE event per deleted one": """
        SELECT count(*) FROM notes n WHERE (
            SELECT count(*) FROM audit_events a
            WHERE a.entity_type = 'Note' AND a.entity_id = n.id AND a.action = 'PIN'
              AND a.actor_id = n.pinned_by AND a.at = n.pinned_at
              AND (a.changes->'pinnedUntil'->>'after')::timestamptz = n.pinned_until
        ) <> (n.pinned_at IS NOT NULL)::int OR (
            SELECT count(*) FROM audit_events a
            WHERE a.entity_type = 'Note' AND a.entity_id = n.id AND a.action = 'DELETE'
              AND a.actor_id = n.deleted_by AND a.at = n.deleted_at
              AND (a.changes->'deletedAt'->>'after')::timestamptz = n.deleted_at
        ) <> (n.deleted_at IS NOT NULL)::int
    """,
}
EVALUATION_RULES = {
    # A flash evaluation is the 115's (the territory's SIAO), minutes after an emergency
    # demand of the household.
    "flash: by the 115 at an emergency demand": """
        SELECT count(*) FROM evaluations e
        JOIN households h ON h.id = e.household_id JOIN users u ON u.id = e.created_by
        WHERE e.kind = 'FLASH' AND NOT (
            u.role = 'SIAO_OPERATOR' AND u.territory_code = h.territory_code
            AND e.vulnerability_level BETWEEN 1 AND 4 AND e.criteria IS NOT NULL
            AND EXISTS (
                SELECT 1 FROM demands d
                WHERE d.household_id = e.household_id AND d.kind = 'EMERGENCY'
                  AND d.created_at BETWEEN e.created_at - interval '12 minutes'
                                       AND e.created_at))
    """,
    # The more criteria, the more vulnerable (1 low ... 4 very high, as the schema says).
    "flash: criteria raise the level": """
        SELECT count(*) FROM evaluations
        WHERE kind = 'FLASH' AND vulnerability_level < least(4, 1 + cardinality(criteria))
    """,
    # A child under 3 only when the demand concerned one.
    "flash: children under 3 are there": """
        SELECT count(*) FROM evaluations e
        WHERE 'CHILDREN_UNDER_3' = ANY(e.criteria) AND NOT EXISTS (
            SELECT 1 FROM demands d
            JOIN demand_persons dp ON dp.demand_id = d.id JOIN persons p ON p.id = dp.person_id
            WHERE d.household_id = e.household_id AND d.kind = 'EMERGENCY'
              AND d.created_at BETWEEN e.created_at - interval '12 minutes' AND e.created_at
              AND p.birth_date > e.created_at::date - 1100)
    """,
    # A deep evaluation is the accompanying social worker's, after an insertion demand and
    # before its commission, with a family situation and a recommendation.
    "deep: by the social worker after an insertion demand": """
        SELECT count(*) FROM evaluations e JOIN users u ON u.id = e.created_by
        WHERE e.kind = 'DEEP' AND NOT (
            u.role = 'SOCIAL_WORKER'
            AND e.sections ? 'familySituation' AND e.sections ? 'recommendation'
            AND EXISTS (
                SELECT 1 FROM accompaniments a
                WHERE a.household_id = e.household_id AND a.organisation_id = u.organisation_id
                  AND a.validity @> e.created_at)
            AND EXISTS (
                SELECT 1 FROM demands d
                WHERE d.household_id = e.household_id AND d.kind = 'INSERTION'
                  AND d.created_at < e.created_at AND d.commission_date > e.created_at::date))
    """,
    "one CREATE event each, with what it recorded": """
        SELECT count(*) FROM evaluations e WHERE (
            SELECT count(*) FROM audit_events a
            WHERE a.entity_type = 'Evaluation' AND a.entity_id = e.id AND a.action = 'CREATE'
              AND a.actor_id = e.created_by AND a.at = e.created_at
              AND a.household_id = e.household_id
              AND a.changes = jsonb_build_object(
                  'kind', jsonb_build_object('before', null, 'after', e.kind),
                  'vulnerabilityLevel', jsonb_build_object(
                      'before', null, 'after', e.vulnerability_level),
                  'criteria', jsonb_build_object('before', null, 'after', e.criteria),
                  'sections', jsonb_build_object('before', null, 'after', e.sections))
                  - CASE WHEN e.kind = 'FLASH' THEN ARRAY['sections']
                         ELSE ARRAY['vulnerabilityLevel', 'criteria'] END) <> 1
    """,
    # The household's last activity counts its notes and evaluations.
    "households: last activity after the record": """
        SELECT count(*) FROM households h
        WHERE h.last_activity_at < (SELECT max(greatest(n.created_at, n.deleted_at))
                                    FROM notes n WHERE n.household_id = h.id)
           OR h.last_activity_at < (SELECT max(e.created_at)
                                    FROM evaluations e WHERE e.household_id = h.id)
    """,
}


async def test_seed_writes_notes_and_evaluations_as_the_application_does(
    new_database: NewDatabase,
) -> None:
    url = await new_database()
    report = await seed(url, PERSONS, seed=5)
    assert report.rows["persons"] == PERSONS
    assert report.checks == "sql"  # evaluations' append-only trigger is a known one
    households = report.rows["households"]
    assert 0.8 <= report.rows["notes"] / households <= 1.5
    assert 0.1 <= report.rows["note_persons"] / report.rows["notes"] <= 0.7
    assert 0.4 <= report.rows["evaluations"] / households <= 0.9
    conn = await asyncpg.connect(url)
    try:
        for rule, query in (NOTE_RULES | EVALUATION_RULES).items():
            assert not await _count(conn, query), rule
        # Accompanied households have a few notes, the others fewer.
        per_household = await conn.fetch(
            """
            SELECT EXISTS (SELECT 1 FROM accompaniments a WHERE a.household_id = h.id)
                       AS accompanied,
                   avg((SELECT count(*) FROM notes n WHERE n.household_id = h.id)) AS notes
            FROM households h GROUP BY 1
            """
        )
        notes = {r["accompanied"]: float(r["notes"]) for r in per_household}
        assert notes[True] >= 1.8
        assert notes[False] <= 0.7
        assert notes[True] > 4 * notes[False]
        # Some notes pinned, some deleted, some concerning two members; all searchable in
        # French, without accents.
        stats = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE pinned_at IS NOT NULL) AS pinned,
                   count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted,
                   count(*) FILTER (WHERE search @@ to_tsquery('french_unaccent', 'hebergement'))
                       AS found,
                   count(DISTINCT title) AS titles, count(DISTINCT body) AS bodies,
                   count(DISTINCT created_by) AS authors
            FROM notes
            """
        )
        assert stats is not None
        assert 0 < stats["pinned"] < 0.1 * report.rows["notes"]
        assert 0 < stats["deleted"] < 0.05 * report.rows["notes"]
        assert stats["found"] > 0
        assert stats["titles"] >= 20
        assert stats["bodies"] >= 300
        assert stats["authors"] >= 10  # the SIAO and social workers of several territories
        assert (
            await _count(
                conn, "SELECT count(*) FROM note_persons GROUP BY note_id ORDER BY 1 DESC LIMIT 1"
            )
            == 2
        )
        # Both kinds; flash evaluations at most emergency demands, with every criterion
        # (and several levels); deep ones read the household's shape.
        kinds = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE kind = 'FLASH') AS flash,
                   count(*) FILTER (WHERE kind = 'DEEP') AS deep,
                   count(DISTINCT vulnerability_level) AS levels,
                   (SELECT count(DISTINCT c) FROM evaluations, unnest(criteria) AS c) AS criteria,
                   (SELECT count(*) FROM demands WHERE kind = 'EMERGENCY') AS emergencies
            FROM evaluations
            """
        )
        assert kinds is not None
        assert 0.6 * kinds["emergencies"] <= kinds["flash"] <= 0.9 * kinds["emergencies"]
        assert kinds["deep"] > 0.1 * kinds["flash"]
        assert kinds["levels"] == 4
        assert kinds["criteria"] == len(CRITERIA_ORDER)
        alone = await conn.fetch(
            """
            SELECT e.sections->>'familySituation' AS text FROM evaluations e
            WHERE e.kind = 'DEEP' AND (
                SELECT count(*) FROM memberships m
                WHERE m.household_id = e.household_id AND m.validity @> e.created_at) = 1
            """
        )
        assert alone
        assert {r["text"] for r in alone} <= set(FAMILY_TEXTS[ISOLATED])
    finally:
        await conn.close()


async def _record_digest(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        digest = await conn.fetchval(
            """
            SELECT md5(concat(
                (SELECT string_agg(concat_ws('|', id, title, body, created_at, created_by,
                                             pinned_until, deleted_at), ',' ORDER BY id)
                 FROM notes),
                (SELECT string_agg(concat_ws('|', note_id, person_id), ','
                                   ORDER BY note_id, person_id) FROM note_persons),
                (SELECT string_agg(concat_ws('|', id, kind, vulnerability_level, criteria,
                                             sections, created_at, created_by), ',' ORDER BY id)
                 FROM evaluations)))
            """
        )
    finally:
        await conn.close()
    assert isinstance(digest, str)
    return digest


async def test_seed_is_deterministic_and_can_be_called_again(new_database: NewDatabase) -> None:
    first, second = await new_database(), await new_database()
    await seed(first, 300, seed=7)
    await seed(second, 300, seed=7)
    assert await _persons_digest(first) == await _persons_digest(second)
    assert await _record_digest(first) == await _record_digest(second)
    # Another seed, other persons.
    third = await new_database()
    await seed(third, 300, seed=8)
    assert await _persons_digest(third) != await _persons_digest(first)
    assert await _record_digest(third) != await _record_digest(first)
    # A second call on the same database adds to it: references continue, nothing collides.
    again = await seed(first, 200, seed=7, territories=("75", "2A"))
    assert again.rows["persons"] == 200
    assert again.rows["territories"] == 1  # 2A; 75 was there
    conn = await asyncpg.connect(first)
    try:
        assert await _count(conn, "SELECT count(*) FROM persons") == 500
        assert await _count(conn, "SELECT count(DISTINCT reference) FROM households") == (
            await _count(conn, "SELECT count(*) FROM households")
        )
        assert await _count(conn, "SELECT count(*) FROM households WHERE territory_code = '2A'") > 0
    finally:
        await conn.close()
    assert int(again.references["75"][0]) > 7550000000  # after the first call's
    assert again.references["2A"][0] == "2050000000"


async def test_the_database_triggers_accept_the_data(new_database: NewDatabase) -> None:
    # The same rules, checked by the deferred constraint triggers and foreign keys
    # themselves instead of the set-based queries.
    # (With random version-4 ids, the other id layout.)
    url = await new_database()
    report = await seed(url, 400, seed=3, checks="triggers", ids="random")
    assert (report.checks, report.ids) == ("triggers", "random")
    assert report.rows["persons"] == 400
    conn = await asyncpg.connect(url)
    try:
        versions = await conn.fetch("SELECT DISTINCT substr(id::text, 15, 1) AS v FROM persons")
        assert [r["v"] for r in versions] == ["4"]
        assert await _count(conn, MISSING_WORDS) == 0
    finally:
        await conn.close()


async def test_a_broken_row_fails_the_checks_and_nothing_is_committed(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _Generator.history

    def broken(self: _Generator, chunk: _Chunk, start: int, stop: int) -> None:
        history(self, chunk, start, stop)
        demand = chunk.rows["demand_persons"][0][0]
        chunk.rows["demand_persons"].append((demand, str(uuid.uuid4())))  # nobody
        chunk.rows["note_persons"].append((str(uuid.uuid4()), str(uuid.uuid4())))  # nothing

    monkeypatch.setattr(_Generator, "history", broken)
    url = await new_database()
    with pytest.raises(SeedCheckFailed) as failure:
        await seed(url, 100)
    assert "demand_person_is_member" in str(failure.value)
    assert "fk_demand_persons_person_id_persons" in str(failure.value)
    assert "fk_note_persons_note_id_notes" in str(failure.value)
    conn = await asyncpg.connect(url)
    try:
        assert not await _count(conn, "SELECT count(*) FROM persons")
        assert not await _count(conn, "SELECT count(*) FROM users")
    finally:
        await conn.close()


SCHEMA = """
    SELECT 'index' AS kind, tablename AS "table", indexname AS name, indexdef AS definition
    FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'constraint', conrelid::regclass::text, conname,
           concat_ws(' ', contype, pg_get_constraintdef(oid), condeferrable, condeferred,
                     convalidated, conindid::regclass::text)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'index state', indrelid::regclass::text, indexrelid::regclass::text,
           concat_ws(' ', indisvalid, indisready, indislive, indisclustered, indisreplident)
    FROM pg_index WHERE indrelid::regclass::text IN (SELECT tablename FROM pg_tables
                                                     WHERE schemaname = 'public')
    UNION ALL
    SELECT 'comment', objoid::regclass::text, description, ''
    FROM pg_description WHERE classoid = 'pg_class'::regclass AND objsubid = 0
      AND objoid IN (SELECT indexrelid FROM pg_index)
    ORDER BY 1, 2, 3
"""
# Indexes a later migration might add, with what a rebuild could lose: an expression, an
# INCLUDE, storage options, a predicate; and one with a comment, which stays in place.
LATER_MIGRATION = (
    "CREATE INDEX ix_later_expression ON persons (lower(last_name), birth_date) "
    "INCLUDE (first_name) WITH (fillfactor = 70) WHERE birth_date > '1990-01-01'",
    "CREATE INDEX ix_later_gin ON persons USING gin (name_words) WITH (fastupdate = off)",
    "CREATE INDEX ix_later_commented ON demands (kind, status)",
    "COMMENT ON INDEX ix_later_commented IS 'kept where it is'",
)


async def _schema(url: str) -> list[tuple[str, str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(SCHEMA)]
    finally:
        await conn.close()


@pytest.fixture
def deferred(monkeypatch: pytest.MonkeyPatch) -> list[list[seed_indexes.Deferred]]:
    """What each seed call dropped for its load (one list per call)."""
    calls: list[list[seed_indexes.Deferred]] = []
    defer = seed_indexes.defer

    async def spy(conn: asyncpg.Connection, added: dict[str, int]) -> list[seed_indexes.Deferred]:
        calls.append(await defer(conn, added))
        return calls[-1]

    monkeypatch.setattr(seed_indexes, "defer", spy)
    return calls


async def test_indexes_built_after_the_load_are_the_ones_there_were(
    new_database: NewDatabase, deferred: list[list[seed_indexes.Deferred]]
) -> None:
    url = await new_database()
    conn = await asyncpg.connect(url)
    try:
        for statement in LATER_MIGRATION:
            await conn.execute(statement)
    finally:
        await conn.close()
    before = await _schema(url)
    await seed(url, PERSONS)
    assert await _schema(url) == before
    # Into empty tables: the btree and GIN indexes that back no constraint, and the
    # exclusion constraint, were built after the COPY; not the GiST index, nor an index
    # with a comment or a definition that does not read back as it is.
    dropped = {(d.table, d.name) for d in deferred[0]}
    assert {
        ("persons", "ix_persons_name_key_trgm"),
        ("persons", "ix_persons_name_words"),
        ("persons", "ix_later_expression"),
        ("persons", "ix_later_gin"),
        ("memberships", "ix_memberships_open_person"),
        ("memberships", "membership_no_overlap"),
        ("demands", "ix_demands_queue"),
        ("notes", "ix_notes_search"),
        ("notes", "ix_notes_household_created"),
        ("note_persons", "ix_note_persons_person_id"),
        ("evaluations", "ix_evaluations_household_kind_created"),
    } <= dropped
    assert (
        not {
            ("memberships", "ix_memberships_household_validity"),  # GiST: kept
            # Its predicate would read back as another expression (see seed_indexes).
            ("demands", "ix_demands_waiting_priority"),
            ("demands", "ix_later_commented"),
            ("persons", "pk_persons"),
            ("households", "uq_households_reference"),
        }
        & dropped
    )

    # Topping up: a table that holds more rows than the seed adds keeps its indexes...
    assert (await seed(url, PERSONS // 10, seed=2)).rows["persons"] == PERSONS // 10
    assert deferred[1] == []
    # ... one that holds fewer rebuilds its btree and GIN indexes, but it keeps its
    # exclusion constraint unless it holds at most a quarter of the rows added.
    held = PERSONS + PERSONS // 10
    assert (await seed(url, held, seed=3)).rows["persons"] == held
    dropped = {(d.table, d.name) for d in deferred[2]}
    assert ("persons", "ix_persons_name_key_trgm") in dropped
    assert ("memberships", "membership_no_overlap") not in dropped
    assert await _schema(url) == before
    conn = await asyncpg.connect(url)
    try:
        assert await _count(conn, "SELECT count(*) FROM persons") == 2 * held
        assert await _count(conn, MISSING_WORDS) == 0
        assert await _count(conn, EXTRA_WORDS) == 0
        # The indexes index every row (a rebuilt index misses none of the earlier rows).
        await conn.execute("SET enable_seqscan = off")
        martins = await _count(
            conn, "SELECT count(*) FROM persons WHERE name_words && ARRAY['martin']"
        )
        assert martins > 0
        assert martins == await _count(
            conn,
            "SELECT count(*) FROM persons WHERE 'martin' = ANY(string_to_array(name_key, ' '))",
        )
    finally:
        await conn.close()


async def test_overlapping_memberships_fail_the_seed_and_nothing_is_committed(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The exclusion constraint is added back after the load: it still refuses overlaps.
    compose = _Generator.compose

    def twice(
        self: _Generator, chunk: _Chunk, hid: str, size: int, created: int, actor: uuid.UUID
    ) -> tuple[list[Stint], int]:
        result = compose(self, chunk, hid, size, created, actor)
        if len(chunk.ids) == 3:  # the same open membership again, under another id
            row = chunk.rows["memberships"][-1]
            chunk.rows["memberships"].append((str(uuid.uuid4()), *row[1:]))
        return result

    monkeypatch.setattr(_Generator, "compose", twice)
    url = await new_database()
    before = await _schema(url)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await seed(url, 100)
    assert await _schema(url) == before
    conn = await asyncpg.connect(url)
    try:
        assert not await _count(conn, "SELECT count(*) FROM memberships")
    finally:
        await conn.close()


async def test_a_table_in_use_keeps_its_indexes(
    new_database: NewDatabase,
    deferred: list[list[seed_indexes.Deferred]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seed_indexes, "LOCK_WAIT", "200ms")
    url = await new_database()
    before = await _schema(url)
    reader = await asyncpg.connect(url)
    try:
        async with reader.transaction():
            await reader.fetchval("SELECT count(*) FROM demands")  # holds ACCESS SHARE
            report = await seed(url, 300)
    finally:
        await reader.close()
    assert report.rows["persons"] == 300
    assert deferred == [[]]
    assert await _schema(url) == before
