"""Every type has its rule, and no path bypasses it (issue #11).

The generated test walks every object of every node type of the demo, for every demo viewer
(and partner tokens), after a move, a merge, a usage name set by the new household and a
protection: `nodes(ids)` answers an object exactly when an independent statement of the
rule, written here in plain SQL from DOMAIN.md (not from the loaders), says the viewer may
see it; a denied object answers exactly like a random id. Then one test per root cause of
the issue.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLObjectType
from starlette.applications import Starlette

from auth.policy import Access, Category, PartnerScope, Relationship, allowed
from auth.settings import Settings
from auth.visibility import TYPE_RULES, rule_of
from resolvers.loader_base import SqlLoader
from resolvers.node import NODE_TYPES
from schema import build_schema
from tests.conftest import Answer, Run, http_client, one_row
from tests.test_mutations import MOVE, UPDATE_PERSON, gid
from tests.test_rights import partner_token

Viewer = Callable[[str | None], Run]
OPERATOR = "siao.75@demo.siao"


# --- every type has a rule ---------------------------------------------------------------


def test_every_object_type_of_the_schema_has_a_rule() -> None:
    schema = build_schema()._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        try:
            rule_of(name)
        except KeyError:
            missing.append(name)
    assert missing == [], f"object types without a rule in auth/visibility.py: {missing}"
    assert set(TYPE_RULES) <= set(schema.type_map), "rules of types that no longer exist"


def _leaf_loaders(cls: type[Any] = SqlLoader) -> list[type[Any]]:
    subclasses = cls.__subclasses__()
    if not subclasses:
        return [cls]
    return [leaf for sub in subclasses for leaf in _leaf_loaders(sub)]


def test_every_loader_shows_a_type_that_has_a_rule() -> None:
    import resolvers.attachment
    import resolvers.duplicates
    import resolvers.situation  # noqa: F401  (the loaders defined there)

    classes = _leaf_loaders()
    assert len(classes) > 30
    for cls in classes:
        assert "shows" in {k for c in cls.__mro__ for k in vars(c)}, f"{cls.__name__}: no `shows`"
        rule_of(cls.shows)  # raises if the type has no rule


# --- the generated test --------------------------------------------------------------------

ROLE_RELATIONSHIP = {  # DOMAIN.md, "Personas -> roles"
    "SOCIAL_WORKER": Relationship.ACCOMPANYING,
    "SIAO_OPERATOR": Relationship.TERRITORY_SIAO,
    "STRUCTURE_MANAGER": Relationship.ORIENTED_OR_HOSTING,
    "BENEFICIARY": Relationship.SELF,
    "PARTNER": Relationship.PARTNER,
    "OBSERVER": Relationship.NONE,
    "ADMIN": Relationship.NONE,
}

# The households a viewer follows (DOMAIN.md's scopes), in plain SQL over `v` (the viewer:
# user_id, org_id, territory, person_id).
SCOPE_SQL = {
    "SOCIAL_WORKER": """SELECT h.id FROM households h, v WHERE EXISTS (
        SELECT 1 FROM accompaniments a WHERE a.household_id = h.id AND a.validity @> now()
        AND (a.user_id = v.user_id OR a.organisation_id = v.org_id))""",
    "SIAO_OPERATOR": "SELECT h.id FROM households h, v WHERE h.territory_code = v.territory",
    "STRUCTURE_MANAGER": """SELECT h.id FROM households h, v WHERE EXISTS (
        SELECT 1 FROM orientations o JOIN places p ON p.id = o.place_id
        WHERE o.household_id = h.id AND o.status IN ('PROPOSED', 'ACCEPTED')
        AND p.organisation_id = v.org_id) OR EXISTS (
        SELECT 1 FROM stays s JOIN places p ON p.id = s.place_id
        WHERE s.household_id = h.id AND upper_inf(s.validity) AND p.organisation_id = v.org_id)""",
    "BENEFICIARY": """SELECT m.household_id AS id FROM memberships m, v
        WHERE m.person_id = v.person_id AND upper_inf(m.validity)""",
    "PARTNER": """SELECT h.id FROM households h, v
        WHERE h.territory_code = v.territory AND NOT h.protected""",
}
NO_SCOPE = "SELECT id FROM households WHERE false"

# The category of the list each record type is shown in (DOMAIN.md's matrix rows).
RECORD_CATEGORY = {
    "Membership": Category.IDENTITY_MIN,
    "Demand": Category.DEMANDS,
    "Orientation": Category.DEMANDS,
    "Stay": Category.DEMANDS,
    "Evaluation": Category.FLASH_EVALUATION,
    "Note": Category.NOTES,
    "AuditEvent": Category.AUDIT,
    "Accompaniment": Category.ACCOMPANIMENTS,
}
SECTION_CATEGORY = {  # DOMAIN.md: what each section of the situation tab holds
    "HousingSteps": Category.SITUATION,
    "HousingPrecarity": Category.SITUATION,
    "Activity": Category.SITUATION,
    "Budget": Category.BUDGET,
    "Administrative": Category.ADMINISTRATIVE,
    "MedicoSocial": Category.HEALTH,
    "Violence": Category.VIOLENCE,
}
RECORD_TABLE = {
    "Membership": "memberships",
    "Demand": "demands",
    "Orientation": "orientations",
    "Stay": "stays",
    "Evaluation": "evaluations",
    "Note": "notes",
    "AuditEvent": "audit_events",
    "Accompaniment": "accompaniments",
}
PERSON_VISIBLE = """(SELECT m.household_id FROM memberships m WHERE m.person_id = {person}
    ORDER BY lower(m.validity) DESC LIMIT 1) IN (SELECT id FROM scope)"""


@dataclass(frozen=True)
class Who:
    name: str
    role: str
    login: str | None = None
    scopes: frozenset[PartnerScope] = frozenset()
    territory: str = "75"

    def may(self, category: Category) -> bool:
        return allowed(category, ROLE_RELATIONSHIP[self.role], Access.READ, self.scopes)


WHO = [
    *(
        Who(login, role, login)
        for login, role in [
            ("sw.alpha@demo.siao", "SOCIAL_WORKER"),
            ("sw.beta@demo.siao", "SOCIAL_WORKER"),
            ("siao.75@demo.siao", "SIAO_OPERATOR"),
            ("siao.93@demo.siao", "SIAO_OPERATOR"),
            ("manager.chrs@demo.siao", "STRUCTURE_MANAGER"),
            ("beneficiary@demo.siao", "BENEFICIARY"),
            ("observer@demo.siao", "OBSERVER"),
            ("admin@demo.siao", "ADMIN"),
        ]
    ),
    Who(
        "partner identity_min+demands",
        "PARTNER",
        scopes=frozenset({PartnerScope.IDENTITY_MIN_READ, PartnerScope.DEMANDS_READ}),
    ),
    Who("partner identity", "PARTNER", scopes=frozenset({PartnerScope.IDENTITY_READ})),
    Who("partner indicators", "PARTNER", scopes=frozenset({PartnerScope.INDICATORS_READ})),
    Who(
        "partner situation (93)",
        "PARTNER",
        scopes=frozenset({PartnerScope.SITUATION_READ}),
        territory="93",
    ),
]


async def expected_visible(sql: asyncpg.Connection, who: Who, type_name: str) -> set[uuid.UUID]:
    """The ids of `type_name` that `who` may see, by the rule stated independently."""
    if who.login is not None:
        user = await one_row(
            sql,
            "SELECT id, organisation_id, territory_code, person_id FROM users WHERE login = $1",
            who.login,
        )
        args = (user["id"], user["organisation_id"], user["territory_code"], user["person_id"])
    else:
        args = (None, None, who.territory, None)
    scope = SCOPE_SQL.get(who.role, NO_SCOPE)

    async def ids(query: str) -> set[uuid.UUID]:
        full = (
            "WITH v AS (SELECT $1::uuid AS user_id, $2::uuid AS org_id, $3::text AS territory, "
            f"$4::uuid AS person_id), scope AS ({scope}) {query}"
        )
        return {r[0] for r in await sql.fetch(full, *args)}

    if type_name == "Household":
        data = (Category.IDENTITY_MIN, Category.IDENTITY, Category.SITUATION, Category.DEMANDS)
        if not any(who.may(c) for c in data):  # a partner with no scope on households' data
            return set()
        return await ids("SELECT id FROM scope")
    if type_name == "Person":
        if not (who.may(Category.IDENTITY_MIN) or who.may(Category.IDENTITY)):
            return set()
        survivor = "COALESCE(p.merged_into_id, p.id)"
        return await ids(
            f"SELECT p.id FROM persons p WHERE {PERSON_VISIBLE.format(person=survivor)}"
        )
    if type_name in RECORD_CATEGORY:
        if not who.may(RECORD_CATEGORY[type_name]):
            return set()
        live = " AND deleted_at IS NULL" if type_name == "Note" else ""
        if type_name == "AuditEvent":
            # A section's save, or an attachment of it, exists in a category of its own.
            hidden = [
                f"'{section}Section', '{section}Attachment'"
                for section, category in SECTION_CATEGORY.items()
                if not who.may(category)
            ]
            if not who.may(Category.NOTES):  # a note's events are its metadata
                hidden.append("'Note'")
            if hidden:
                live = f" AND entity_type NOT IN ({', '.join(hidden)})"
        table = RECORD_TABLE[type_name]
        return await ids(
            f"SELECT id FROM {table} WHERE household_id IN (SELECT id FROM scope){live}"
        )
    if type_name == "User":
        professionals = who.role in {
            "SOCIAL_WORKER",
            "SIAO_OPERATOR",
            "STRUCTURE_MANAGER",
            "BENEFICIARY",
            "ADMIN",
        }
        return await ids(
            "SELECT user_id FROM v WHERE user_id IS NOT NULL UNION "  # their own
            f"SELECT id FROM users WHERE role <> 'BENEFICIARY' AND {professionals}"
            + (
                f" UNION SELECT u.id FROM users u WHERE u.role = 'BENEFICIARY' AND "
                f"{PERSON_VISIBLE.format(person='u.person_id')}"
                if who.may(Category.IDENTITY_MIN)
                else ""
            )
        )
    if type_name in ("Place", "Structure"):
        # As the lists show them: `structures` (professionals, their territory) and the
        # places of the orientations and stays of the demands the viewer may read.
        lists = who.role in {"SOCIAL_WORKER", "SIAO_OPERATOR", "STRUCTURE_MANAGER"}
        linked = (
            "SELECT place_id FROM orientations WHERE household_id IN (SELECT id FROM scope) "
            "UNION SELECT place_id FROM stays WHERE household_id IN (SELECT id FROM scope)"
            if who.may(Category.DEMANDS)
            else "SELECT NULL::uuid"
        )
        places = (
            "SELECT p.id, p.organisation_id FROM places p JOIN organisations o "
            f"ON o.id = p.organisation_id, v WHERE ({lists} AND o.territory_code = v.territory) "
            f"OR p.id IN ({linked})"
        )
        column = "id" if type_name == "Place" else "organisation_id"
        return await ids(f"SELECT DISTINCT seen.{column} FROM ({places}) seen")
    # Reference data, not personal: every authenticated viewer.
    return await ids("SELECT id FROM organisations")


ALL_IDS = {
    "Household": "SELECT id FROM households",
    "Person": "SELECT id FROM persons",
    "User": "SELECT id FROM users",
    "Organisation": "SELECT id FROM organisations",
    "Structure": "SELECT id FROM organisations",
    "Place": "SELECT id FROM places",
    **{t: f"SELECT id FROM {table}" for t, table in RECORD_TABLE.items()},
}
CHECKED_TYPES = sorted(ALL_IDS)


def raw_of(global_id: str) -> uuid.UUID:
    return uuid.UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


async def make_history(as_user: Viewer, sql: asyncpg.Connection) -> None:
    """A move (Alpha's household to Bêta's), a usage name set by the new household's social
    worker, a merge and a protection, on top of the demo's own moves and closures."""
    operator = as_user(OPERATOR)
    mover = await one_row(
        sql,
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000004' AND upper_inf(m.validity) "
        "AND m.relationship <> 'REFERENCE_PERSON' ORDER BY m.person_id LIMIT 1",
    )
    target = await one_row(sql, "SELECT id, version FROM households WHERE reference='7500000045'")
    moved = await operator(
        MOVE,
        input={
            "personId": gid("Person", mover["person_id"]),
            "toHouseholdId": gid("Household", target["id"]),
            "relationship": "OTHER",
            "expectedVersion": target["version"],
        },
    )
    assert moved.errors == [], moved.errors
    assert moved.data is not None
    assert moved.data["moveHouseholdMember"]["userErrors"] == []
    person = await one_row(sql, "SELECT version FROM persons WHERE id = $1", mover["person_id"])
    renamed = await as_user("sw.beta@demo.siao")(
        UPDATE_PERSON,
        input={
            "personId": gid("Person", mover["person_id"]),
            "expectedVersion": person["version"],
            "usageName": "Nouveau-Nom",
        },
    )
    assert renamed.data is not None
    assert renamed.data["updatePerson"]["userErrors"] == []
    # A merge: a person of an Alpha household entered again in a 75 household nobody
    # accompanies (the SIAO merges the second record into the first).
    keep, dup = await sql.fetch(
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference IN ('7500000009', '7500000081') AND upper_inf(m.validity) "
        "AND m.relationship = 'REFERENCE_PERSON' ORDER BY h.reference"
    )
    merged = await operator(
        "mutation ($input: MergePersonsInput!) { mergePersons(input: $input) "
        "{ userErrors { code message } } }",
        input={
            "keepId": gid("Person", keep["person_id"]),
            "mergeId": gid("Person", dup["person_id"]),
            "dropOverlappingMemberships": True,
        },
    )
    assert merged.errors == [], merged.errors
    assert merged.data is not None
    assert merged.data["mergePersons"]["userErrors"] == []
    await sql.execute("UPDATE households SET protected = true WHERE reference = '7500000006'")


@pytest.fixture
def as_who(as_user: Viewer, app: Starlette, settings: Settings) -> Callable[[Who], Run]:
    def run_for(who: Who) -> Run:
        if who.login is not None:
            return as_user(who.login)
        token = partner_token(settings, who.scopes, who.territory)

        async def run(document: str, **variables: Any) -> Answer:
            async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
                body = (
                    await client.post("/graphql", json={"query": document, "variables": variables})
                ).json()
            return Answer(body.get("data"), body.get("errors", []), body.get("extensions", {}))

        return run

    return run_for


NODES = "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"
NODE = "query ($id: ID!) { node(id: $id) { id } }"


async def test_node_answers_exactly_what_the_rule_lets_each_viewer_see(
    as_user: Viewer, as_who: Callable[[Who], Run], sql: asyncpg.Connection
) -> None:
    await make_history(as_user, sql)
    checked = 0
    for who in WHO:
        run = as_who(who)
        for type_name in CHECKED_TYPES:
            all_ids = [r[0] for r in await sql.fetch(ALL_IDS[type_name])]
            expected = await expected_visible(sql, who, type_name)
            seen: set[uuid.UUID] = set()
            for start in range(0, len(all_ids), 100):
                chunk = all_ids[start : start + 100]
                answer = await run(NODES, ids=[gid(type_name, i) for i in chunk])
                assert answer.errors == [], (who.name, type_name, answer.errors)
                assert answer.data is not None
                for asked, node in zip(chunk, answer.data["nodes"], strict=True):
                    if node is not None:
                        seen.add(asked)
                checked += len(chunk)
            assert seen == expected, (
                f"{who.name} / {type_name}: {len(seen - expected)} seen that the rule hides, "
                f"{len(expected - seen)} hidden that the rule shows"
            )
            denied = sorted(set(all_ids) - expected)
            if denied:
                hidden = await run(NODE, id=gid(type_name, denied[0]))
                random = await run(NODE, id=gid(type_name, uuid.uuid4()))
                assert hidden.data == random.data == {"node": None}
                assert hidden.errors == random.errors == []
                assert hidden.extensions == random.extensions or (
                    hidden.extensions["sql"]["statements"] == random.extensions["sql"]["statements"]
                ), (who.name, type_name)
    print(f"node visibility: {checked} (viewer, object) pairs checked")  # noqa: T201
    assert checked > 30_000
    assert set(CHECKED_TYPES) | {"Territory", "Attachment"} == NODE_TYPES


# --- one test per root cause ---------------------------------------------------------------

HISTORY = """
query ($ref: String!) {
  household(reference: $ref) {
    memberHistory {
      validTo
      person { id firstName lastName usageName asOf currentHousehold { id } memberships { id } }
    }
  }
}"""
PERSON = """
query ($id: ID!) {
  node(id: $id) { ... on Person { id usageName asOf currentHousehold { reference } } }
}"""


async def test_a_person_who_left_is_seen_as_she_was_by_the_household_she_left(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Root cause 1: the household left behind read the identity her new household gave her."""
    await make_history(as_user, sql)  # moves her from 7500000004 (Alpha) to 7500000045 (Bêta)
    moved = await one_row(
        sql,
        "SELECT m.person_id, upper(m.validity) AS left_at, m.identity_at_end "
        "FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000004' AND NOT upper_inf(m.validity) "
        "ORDER BY upper(m.validity) DESC LIMIT 1",
    )
    person_id = gid("Person", moved["person_id"])
    alpha, beta = as_user("sw.alpha@demo.siao"), as_user("sw.beta@demo.siao")

    # Given she left Alpha's household and Bêta's worker gave her a usage name,
    # when Alpha asks for her by id, then she is not found (like a random id).
    by_id = await alpha(PERSON, id=person_id)
    assert by_id.data == {"node": None}
    assert by_id.errors == []
    # When Alpha reads the household's history, then she is there as she was when she left.
    history = await alpha(HISTORY, ref="7500000004")
    assert history.errors == [], history.errors
    assert history.data is not None
    entry = next(
        m for m in history.data["household"]["memberHistory"] if m["person"]["id"] == person_id
    )
    assert entry["person"]["usageName"] is None  # not "Nouveau-Nom"
    assert entry["person"]["asOf"] == entry["validTo"]
    assert entry["person"]["currentHousehold"] is None  # not where she went
    assert len(entry["person"]["memberships"]) == 1  # only the household Alpha follows
    assert entry["person"]["lastName"] == json.loads(moved["identity_at_end"])["last_name"]
    # Bêta, who follows her now, reads her record now.
    now = await beta(PERSON, id=person_id)
    assert now.data is not None
    assert now.data["node"]["usageName"] == "Nouveau-Nom"
    assert now.data["node"]["asOf"] is None
    assert now.data["node"]["currentHousehold"] == {"reference": "7500000045"}
    # The SIAO, who follows both households, reads her record now through either.
    siao = await as_user(OPERATOR)(HISTORY, ref="7500000004")
    assert siao.data is not None
    seen = next(
        m for m in siao.data["household"]["memberHistory"] if m["person"]["id"] == person_id
    )
    assert seen["person"]["usageName"] == "Nouveau-Nom"
    assert seen["person"]["asOf"] is None


CONCERNED = """
query ($id: ID!) {
  node(id: $id) { ... on Demand { concernedPersons { id usageName asOf } } }
}"""


async def test_a_demand_of_the_household_she_left_shows_her_as_she_was(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user("sw.alpha@demo.siao")
    person = await one_row(
        sql,
        "SELECT m.person_id, h.id AS household_id, h.version FROM memberships m "
        "JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000004' AND upper_inf(m.validity) "
        "AND m.relationship <> 'REFERENCE_PERSON' ORDER BY m.person_id LIMIT 1",
    )
    demand = await alpha(
        "mutation ($input: CreateDemandInput!) { createDemand(input: $input) "
        "{ userErrors { code } demand { id } } }",
        input={
            "householdId": gid("Household", person["household_id"]),
            "kind": "INSERTION",
            "concernedPersonIds": [gid("Person", person["person_id"])],
        },
    )
    assert demand.data is not None, demand.errors
    assert demand.data["createDemand"]["userErrors"] == []
    demand_id = demand.data["createDemand"]["demand"]["id"]
    await make_history(as_user, sql)  # moves that same person to Bêta's 7500000045
    answer = await alpha(CONCERNED, id=demand_id)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    (concerned,) = answer.data["node"]["concernedPersons"]
    assert concerned["usageName"] is None
    assert concerned["asOf"] is not None


RECORDS = """
query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"""


async def test_node_applies_the_category_of_the_list_a_type_is_shown_in(
    as_user: Viewer, as_who: Callable[[Who], Run], sql: asyncpg.Connection
) -> None:
    """Root cause 3: objects fetched by id skipped the category of their list."""
    household = await one_row(sql, "SELECT id FROM households WHERE reference = '7500000001'")
    hid = household["id"]

    async def one(table: str, type_name: str) -> str:
        row = await one_row(sql, f"SELECT id FROM {table} WHERE household_id = $1 LIMIT 1", hid)
        return gid(type_name, row["id"])

    demand = await one("demands", "Demand")
    note = await one("notes", "Note")
    evaluation = await one("evaluations", "Evaluation")
    event = await one("audit_events", "AuditEvent")
    ids = [demand, note, evaluation, event]

    async def visible(run: Run) -> set[str]:
        answer = await run(RECORDS, ids=ids)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        return {n["__typename"] for n in answer.data["nodes"] if n is not None}

    no_demands = Who("p", "PARTNER", scopes=frozenset({PartnerScope.IDENTITY_MIN_READ}))
    with_demands = Who("p", "PARTNER", scopes=frozenset({PartnerScope.DEMANDS_READ}))
    assert await visible(as_who(no_demands)) == set()
    assert await visible(as_who(with_demands)) == {"Demand"}
    # The beneficiary reads their demands, evaluations and change log, not the notes.
    assert await visible(as_user("beneficiary@demo.siao")) == {"Demand", "Evaluation", "AuditEvent"}
    assert await visible(as_user("sw.alpha@demo.siao")) == {
        "Demand",
        "Note",
        "Evaluation",
        "AuditEvent",
    }


USER = "query ($id: ID!) { node(id: $id) { ... on User { id displayName role } } }"


async def test_a_beneficiary_user_is_personal_data_of_their_household(
    as_user: Viewer, as_who: Callable[[Who], Run], sql: asyncpg.Connection
) -> None:
    """Root cause 4: any token read a beneficiary's name and role by id."""
    user = await one_row(sql, "SELECT id FROM users WHERE login = 'beneficiary@demo.siao'")
    professional = await one_row(sql, "SELECT id FROM users WHERE login = 'sw.beta@demo.siao'")
    beneficiary_id = gid("User", user["id"])
    random_id = gid("User", uuid.uuid4())
    partner = as_who(WHO[9])  # no identity_min:read
    for name, run in (
        ("sw.beta", as_user("sw.beta@demo.siao")),  # does not accompany their household
        ("siao.93", as_user("siao.93@demo.siao")),
        ("observer", as_user("observer@demo.siao")),
        ("manager", as_user("manager.chrs@demo.siao")),
        ("partner", partner),
    ):
        hidden = await run(USER, id=beneficiary_id)
        random = await run(USER, id=random_id)
        assert hidden.data == random.data == {"node": None}, name
        assert hidden.errors == random.errors == []
    for login in ("sw.alpha@demo.siao", OPERATOR, "beneficiary@demo.siao"):
        seen = await as_user(login)(USER, id=beneficiary_id)
        assert seen.data is not None
        assert seen.data["node"]["role"] == "BENEFICIARY", login
    # Professionals stay visible to professionals, not to partner systems or observers.
    colleague = gid("User", professional["id"])
    assert (await as_user("manager.chrs@demo.siao")(USER, id=colleague)).data == {
        "node": {"id": colleague, "displayName": "Karim Haddad", "role": "SOCIAL_WORKER"}
    }
    assert (await partner(USER, id=colleague)).data == {"node": None}
    assert (await as_user("observer@demo.siao")(USER, id=colleague)).data == {"node": None}


# --- what the household left behind does not learn (adversarial review) ---------------------

LOG = """
query ($ref: String!, $filter: AuditFilter) {
  household(reference: $ref) {
    lastActivityAt
    summary { lastSavedAt }
    auditEvents(first: 100, filter: $filter) {
      totalCount
      edges { node { action entityType entityId changes actor { displayName } } }
    }
  }
}"""
ACCESS = """
query ($ref: String!) {
  household(reference: $ref) { accessLog(first: 100) { edges { node { reader category } } } }
}"""


async def moved_person(sql: asyncpg.Connection) -> asyncpg.Record:
    """Who `make_history` moved from 7500000004 (Alpha) to 7500000045 (Bêta)."""
    return await one_row(
        sql,
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000004' AND NOT upper_inf(m.validity) "
        "ORDER BY upper(m.validity) DESC LIMIT 1",
    )


async def log_of(run: Run, ref: str, **filter: Any) -> dict[str, Any]:
    answer = await run(LOG, ref=ref, filter=filter or None)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    household: dict[str, Any] = answer.data["household"]
    return household


async def test_a_move_does_not_say_who_moved_her_to_the_household_left_behind(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    await make_history(as_user, sql)  # the SIAO (Sophie Lefèvre) moved her
    alpha, beta = as_user("sw.alpha@demo.siao"), as_user("sw.beta@demo.siao")
    left = await log_of(alpha, "7500000004", action="MOVE_OUT")
    (move_out,) = [e["node"] for e in left["auditEvents"]["edges"]]
    assert move_out["actor"] is None  # the SIAO sees her new household: it would point there
    assert "toHousehold" not in move_out["changes"]
    for search in ({"text": "Lefèvre"}, {"actor": gid("User", await operator_id(sql))}):
        found = await log_of(alpha, "7500000004", action="MOVE_OUT", **search)
        assert found["auditEvents"]["totalCount"] == 0, search
    # the household she joined does not see where she came from, nor who brought her
    joined = await log_of(beta, "7500000045", action="MOVE_IN")
    (move_in,) = [e["node"] for e in joined["auditEvents"]["edges"]]
    assert move_in["actor"] is None
    assert "fromHousehold" not in move_in["changes"]
    # the SIAO, who sees both, reads the whole move
    siao = await log_of(as_user(OPERATOR), "7500000004", action="MOVE_OUT")
    (seen,) = [e["node"] for e in siao["auditEvents"]["edges"]]
    assert seen["actor"] == {"displayName": "Sophie Lefèvre"}
    assert "toHousehold" in seen["changes"]


async def operator_id(sql: asyncpg.Connection) -> uuid.UUID:
    row = await one_row(sql, "SELECT id FROM users WHERE login = $1", OPERATOR)
    value: uuid.UUID = row["id"]
    return value


ADD = """
mutation ($input: AddHouseholdMemberInput!) {
  addHouseholdMember(input: $input) { userErrors { code } person { id } }
}"""


async def test_a_merge_after_she_left_is_not_written_into_the_household_she_left(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    await make_history(as_user, sql)
    moved = await moved_person(sql)
    person = await one_row(
        sql, "SELECT first_name, last_name FROM persons WHERE id = $1", moved["person_id"]
    )
    target = await one_row(sql, "SELECT id, version FROM households WHERE reference='7500000045'")
    # Bêta enters her again by mistake, in the household she joined; the SIAO merges.
    added = await as_user("sw.beta@demo.siao")(
        ADD,
        input={
            "householdId": gid("Household", target["id"]),
            "expectedVersion": target["version"],
            "person": {
                "firstName": person["first_name"],
                "lastName": person["last_name"],
                "sex": "FEMALE",
                "relationship": "OTHER",
            },
        },
    )
    assert added.data is not None, added.errors
    assert added.data["addHouseholdMember"]["userErrors"] == []
    merged = await as_user(OPERATOR)(
        "mutation ($input: MergePersonsInput!) { mergePersons(input: $input) "
        "{ userErrors { code } } }",
        input={
            "keepId": gid("Person", moved["person_id"]),
            "mergeId": added.data["addHouseholdMember"]["person"]["id"],
        },
    )
    assert merged.data is not None, merged.errors
    assert merged.data["mergePersons"]["userErrors"] == []
    left = await log_of(as_user("sw.alpha@demo.siao"), "7500000004", action="MERGE")
    assert left["auditEvents"]["totalCount"] == 0
    joined = await log_of(as_user("sw.beta@demo.siao"), "7500000045", action="MERGE")
    assert joined["auditEvents"]["totalCount"] == 1


async def test_a_change_not_shown_does_not_move_the_last_activity(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await one_row(
        sql,
        "SELECT h.id, m.person_id FROM households h JOIN memberships m ON m.household_id = h.id "
        "WHERE h.reference = '7500000002' AND upper_inf(m.validity) "
        "AND m.relationship = 'REFERENCE_PERSON'",
    )
    siao, alpha = as_user(OPERATOR), as_user("sw.alpha@demo.siao")
    before = await log_of(siao, "7500000002")
    saved = await alpha(
        "mutation ($input: UpdateHouseholdSituationInput!) { updateHouseholdSituation("
        "input: $input) { userErrors { code } savedAt } }",
        input={
            "householdId": gid("Household", household["id"]),
            "personId": gid("Person", household["person_id"]),
            "expectedVersion": 0,
            "patch": {"medicoSocial": {"pregnant": True, "dueDate": "2027-03-01"}},
        },
    )
    assert saved.data is not None, saved.errors
    assert saved.data["updateHouseholdSituation"]["userErrors"] == []
    saved_at = saved.data["updateHouseholdSituation"]["savedAt"]
    # the SIAO, who may not read HEALTH, sees nothing move: not the log, not the clocks
    after = await log_of(siao, "7500000002")
    assert after == before
    # Alpha, who wrote it, sees it
    own = await log_of(alpha, "7500000002")
    assert own["lastActivityAt"] == own["summary"]["lastSavedAt"] == saved_at


async def test_reading_changes_since_logs_the_access_in_the_household_edited(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """A person's section follows her; a stale save's `changesSince` lists saves made while
    she belonged to her old household: reading them is logged where it is read, never
    into the household she left (it would tell it who follows her now)."""
    mover = await one_row(
        sql,
        "SELECT m.person_id, h.id AS household_id FROM memberships m "
        "JOIN households h ON h.id = m.household_id WHERE h.reference = '7500000004' "
        "AND upper_inf(m.validity) AND m.relationship <> 'REFERENCE_PERSON' "
        "ORDER BY m.person_id LIMIT 1",
    )  # the one `make_history` moves to 7500000045 (Bêta)
    start = await sql.fetchval(
        "SELECT coalesce(max(version), 0) FROM situation_sections "
        "WHERE person_id = $1 AND section = 'ADMINISTRATIVE'",
        mover["person_id"],
    )
    save = (
        "mutation ($input: UpdateHouseholdSituationInput!) { updateHouseholdSituation("
        "input: $input) { userErrors { code changesSince { field } } } }"
    )

    def papers(household_id: uuid.UUID, version: int, comment: str) -> dict[str, Any]:
        return {
            "householdId": gid("Household", household_id),
            "personId": gid("Person", mover["person_id"]),
            "expectedVersion": version,
            "patch": {"administrative": {"comment": comment}},
        }

    alpha = as_user("sw.alpha@demo.siao")
    for version, comment in ((start, "titre de séjour"), (start + 1, "récépissé")):
        done = await alpha(save, input=papers(mover["household_id"], version, comment))
        assert done.data is not None, done.errors
        assert done.data["updateHouseholdSituation"]["userErrors"] == []
    await make_history(as_user, sql)
    target = await one_row(sql, "SELECT id FROM households WHERE reference = '7500000045'")
    stale = await as_user("sw.beta@demo.siao")(save, input=papers(target["id"], start + 1, "x"))
    assert stale.data is not None, stale.errors
    (problem,) = stale.data["updateHouseholdSituation"]["userErrors"]
    assert problem["code"] == "STALE_VERSION"
    assert problem["changesSince"] != []
    old = await alpha(ACCESS, ref="7500000004")
    assert old.data is not None
    readers = {e["node"]["reader"] for e in old.data["household"]["accessLog"]["edges"]}
    assert "Karim Haddad" not in readers  # who follows her now
    new = await as_user("sw.beta@demo.siao")(ACCESS, ref="7500000045")
    assert new.data is not None
    readers = {e["node"]["reader"] for e in new.data["household"]["accessLog"]["edges"]}
    assert "Karim Haddad" in readers


async def test_a_partner_is_not_told_when_records_it_may_not_read_change(
    as_user: Viewer, as_who: Callable[[Who], Run], sql: asyncpg.Connection
) -> None:
    household = await one_row(
        sql,
        "SELECT h.id, m.person_id FROM households h JOIN memberships m ON m.household_id = h.id "
        "WHERE h.reference = '7500000002' AND upper_inf(m.validity) "
        "AND m.relationship = 'REFERENCE_PERSON'",
    )
    partner = as_who(WHO[9])  # identity only: no demands, no evaluations
    activity = 'query { household(reference: "7500000002") { lastActivityAt } }'
    before = await partner(activity)
    created = await as_user("sw.alpha@demo.siao")(
        "mutation ($input: CreateDemandInput!) { createDemand(input: $input) "
        "{ userErrors { code } } }",
        input={
            "householdId": gid("Household", household["id"]),
            "kind": "EMERGENCY",
            "concernedPersonIds": [gid("Person", household["person_id"])],
        },
    )
    assert created.data is not None, created.errors
    assert created.data["createDemand"]["userErrors"] == []
    after = await partner(activity)
    assert after.errors == before.errors == []
    assert after.data == before.data
    # who may read demands sees the record move
    siao = await as_user(OPERATOR)(activity)
    assert siao.data is not None
    assert before.data is not None
    assert siao.data["household"]["lastActivityAt"] > before.data["household"]["lastActivityAt"]


async def test_a_partner_with_no_scope_on_households_data_lists_none(
    as_who: Callable[[Who], Run],
) -> None:
    listing = "query { households(first: 5) { totalCount edges { node { id createdAt } } } }"
    indicators = await as_who(WHO[10])(listing)
    assert indicators.errors == []
    assert indicators.data == {"households": {"totalCount": 0, "edges": []}}
    identity = await as_who(WHO[9])(listing)
    assert identity.data is not None
    assert identity.data["households"]["totalCount"] > 0


async def test_the_close_of_the_household_she_left_does_not_say_who_moved_her(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """The only member of a Bêta household moves to an Alpha one: the household she left
    closes in the same change, and its CLOSE must not name the mover either."""
    alone = await one_row(
        sql,
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000041' AND upper_inf(m.validity)",
    )
    target = await one_row(sql, "SELECT id, version FROM households WHERE reference='7500000005'")
    moved = await as_user(OPERATOR)(
        MOVE,
        input={
            "personId": gid("Person", alone["person_id"]),
            "toHouseholdId": gid("Household", target["id"]),
            "relationship": "OTHER",
            "expectedVersion": target["version"],
        },
    )
    assert moved.data is not None, moved.errors
    assert moved.data["moveHouseholdMember"]["userErrors"] == []
    beta = as_user("sw.beta@demo.siao")
    log = await log_of(beta, "7500000041", action="CLOSE")
    (close,) = [e["node"] for e in log["auditEvents"]["edges"]]
    assert close["actor"] is None
    for search in ({"text": "Lefèvre"}, {"actor": gid("User", await operator_id(sql))}):
        found = await log_of(beta, "7500000041", action="CLOSE", **search)
        assert found["auditEvents"]["totalCount"] == 0, search
    # the SIAO, who sees both households, reads who closed it
    siao = await log_of(as_user(OPERATOR), "7500000041", action="CLOSE")
    (seen,) = [e["node"] for e in siao["auditEvents"]["edges"]]
    assert seen["actor"] == {"displayName": "Sophie Lefèvre"}
