"""Rights on personal data, field by field and row by row, checked against the policy.

The matrix test is generated: it walks the schema's `@sensitive` fields and, for every
viewer relationship that can be set up with the demo data, reads each field through
`node(id:)` and asserts the value or FORBIDDEN exactly as `auth.policy` says.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    Undefined,
    get_named_type,
    is_composite_type,
    is_non_null_type,
)
from starlette.applications import Starlette

from auth.policy import Access, Category, PartnerScope, Relationship, allowed, audited_fields
from auth.settings import Settings
from auth.tokens import PartnerGrant, mint_dev_token
from auth.visibility import rule_of
from models.demo import FIRST_75_REFERENCE
from schema import build_schema
from schema.rights_matrix import DOC_PATH, render, restricted_fields
from tests.conftest import Answer, Run, http_client, one_row
from tests.test_mutations import CREATE_DEMAND, CREATE_HOUSEHOLD, UPDATE_PERSON, gid, snapshot

Viewer = Callable[[str | None], Run]
ACCOMPANIED = FIRST_75_REFERENCE  # accompanied by Association Alpha; beneficiary's own
PROTECTED_BY_ALPHA = "7500000003"
PROTECTED_NOBODY = "7500000090"


@dataclass(frozen=True)
class Setup:
    name: str
    relationship: Relationship
    login: str | None = None
    partner_scopes: frozenset[PartnerScope] | None = None


SETUPS = [
    Setup("accompanying social worker", Relationship.ACCOMPANYING, "sw.alpha@demo.siao"),
    Setup("SIAO operator of the territory", Relationship.TERRITORY_SIAO, "siao.75@demo.siao"),
    Setup("the beneficiary, about their own household", Relationship.SELF, "beneficiary@demo.siao"),
    Setup(
        "partner with identity_min and demands scopes",
        Relationship.PARTNER,
        partner_scopes=frozenset({PartnerScope.IDENTITY_MIN_READ, PartnerScope.DEMANDS_READ}),
    ),
    Setup(
        "partner with the identity scope only",
        Relationship.PARTNER,
        partner_scopes=frozenset({PartnerScope.IDENTITY_READ}),
    ),
]
OUTSIDERS = [
    "sw.beta@demo.siao",  # social worker of another association
    "observer@demo.siao",
    "admin@demo.siao",
    "manager.chrs@demo.siao",  # no orientation exists yet: no household is oriented to it
    "siao.93@demo.siao",
]


def partner_token(
    settings: Settings, scopes: frozenset[PartnerScope], territory: str = "75"
) -> str:
    grant = PartnerGrant(name="SYPLO", scopes=scopes, territory=territory)
    return mint_dev_token(settings, "partner:SYPLO", partner=grant)


@pytest.fixture
def as_setup(as_user: Viewer, app: Starlette, settings: Settings) -> Callable[[Setup], Run]:
    from tests.conftest import Answer as _Answer

    def run_for(setup: Setup) -> Run:
        if setup.login is not None:
            return as_user(setup.login)
        assert setup.partner_scopes is not None
        token = partner_token(settings, setup.partner_scopes)

        async def run(document: str, **variables: Any) -> _Answer:
            async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
                body = (
                    await client.post("/graphql", json={"query": document, "variables": variables})
                ).json()
            return _Answer(body.get("data"), body.get("errors", []), body.get("extensions", {}))

        return run

    return run_for


async def ids_of(sql: asyncpg.Connection, reference: str) -> dict[str, str]:
    """A global id of an object of each node type, all of the household `reference`."""
    household = await one_row(sql, "SELECT id FROM households WHERE reference = $1", reference)
    hid = household["id"]
    membership = await one_row(
        sql, "SELECT id, person_id FROM memberships WHERE household_id = $1 LIMIT 1", hid
    )
    demand = await one_row(sql, "SELECT id FROM demands WHERE household_id = $1 LIMIT 1", hid)
    audit = await one_row(sql, "SELECT id FROM audit_events WHERE household_id = $1 LIMIT 1", hid)
    note = await one_row(sql, "SELECT id FROM notes WHERE household_id = $1 LIMIT 1", hid)
    evaluation = await one_row(
        sql, "SELECT id FROM evaluations WHERE household_id = $1 AND kind = 'DEEP' LIMIT 1", hid
    )
    accompaniment = await one_row(
        sql, "SELECT id FROM accompaniments WHERE household_id = $1 LIMIT 1", hid
    )
    return {
        "Household": gid("Household", hid),
        "Person": gid("Person", membership["person_id"]),
        "Membership": gid("Membership", membership["id"]),
        "Demand": gid("Demand", demand["id"]),
        "AuditEvent": gid("AuditEvent", audit["id"]),
        "Evaluation": gid("Evaluation", evaluation["id"]),
        "Note": gid("Note", note["id"]),
        "Accompaniment": gid("Accompaniment", accompaniment["id"]),
    }


async def orient_to_chrs(siao: Run, sql: asyncpg.Connection, demand: str) -> None:
    place = await one_row(
        sql,
        "SELECT p.id FROM places p JOIN organisations o ON o.id = p.organisation_id "
        "WHERE o.name = 'CHRS Les Tilleuls' AND p.place_type = 'INSERTION'",
    )
    await sql.execute(
        "UPDATE demands SET status = 'SUBMITTED', submitted_at = now() WHERE id = $1::uuid",
        base64.b64decode(demand).decode().split(":", 1)[1],
    )
    answer = await siao(
        "mutation ($i: ProposeOrientationInput!) { proposeOrientation(input: $i) "
        "{ userErrors { code message } } }",
        i={"demandId": demand, "placeId": gid("Place", place["id"])},
    )
    assert answer.data is not None, answer.errors
    assert answer.data["proposeOrientation"]["userErrors"] == []


def selection(type_name: str, field_name: str) -> str:
    """The field, with its required arguments (the first value of an enum) and a minimal
    sub-selection."""
    graphql_type = build_schema()._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    field = graphql_type.fields[field_name]
    required = []
    for name, argument in field.args.items():
        if is_non_null_type(argument.type) and argument.default_value is Undefined:
            enum = get_named_type(argument.type)
            assert isinstance(enum, GraphQLEnumType), f"{type_name}.{field_name}({name})"
            required.append(f"{name}: {next(iter(enum.values))}")
    call = f"{field_name}({', '.join(required)})" if required else field_name
    return f"{call} {{ __typename }}" if is_composite_type(get_named_type(field.type)) else call


def forbidden_at(answer: Answer, path: list[str | int]) -> bool:
    return any(
        e.get("path") == path and e.get("extensions", {}).get("code") == "FORBIDDEN"
        for e in answer.errors
    )


async def test_every_restricted_field_answers_exactly_as_the_policy_says(
    as_setup: Callable[[Setup], Run], sql: asyncpg.Connection
) -> None:
    ids = await ids_of(sql, ACCOMPANIED)
    fields = [f for f in restricted_fields() if f.directive == "sensitive" and f.type_name in ids]
    assert {f.type_name for f in fields} == set(ids), "every node type has restricted fields"
    cases = 0
    for login in OUTSIDERS:
        run = as_setup(Setup(login, Relationship.NONE, login))
        for type_name, node_id in ids.items():
            answer = await run("query ($id: ID!) { node(id: $id) { id } }", id=node_id)
            assert answer.data == {"node": None}, (login, type_name)
            assert answer.errors == []
            cases += 1
    # Now orient a demand of the household to the CHRS: its manager stands in the
    # ORIENTED_OR_HOSTING relationship to it from then on.
    await orient_to_chrs(as_setup(SETUPS[1]), sql, ids["Demand"])
    manager = Setup(
        "structure it is oriented to", Relationship.ORIENTED_OR_HOSTING, "manager.chrs@demo.siao"
    )
    for setup in [*SETUPS, manager]:
        run = as_setup(setup)
        scopes = setup.partner_scopes or frozenset()
        for item in fields:
            document = (
                f"query ($id: ID!) {{ node(id: $id) {{ ... on {item.type_name} "
                f"{{ {selection(item.type_name, item.field_name)} }} }} }}"
            )
            answer = await run(document, id=ids[item.type_name])
            assert answer.data is not None, (setup.name, item)
            type_category = rule_of(item.type_name).category
            needed = (type_category,) if isinstance(type_category, Category) else type_category
            if isinstance(needed, tuple) and not any(
                allowed(c, setup.relationship, Access.READ, scopes) for c in needed
            ):
                # The type's own rule hides the whole object (its list's category).
                assert answer.data["node"] is None, f"{setup.name}: {item.type_name} visible"
                assert answer.errors == []
                cases += 1
                continue
            assert answer.data["node"] is not None, f"{setup.name}: {item.type_name} not visible"
            may = allowed(item.category, setup.relationship, Access.READ, scopes)
            denied = forbidden_at(answer, ["node", item.field_name])
            assert denied is not may, f"{setup.name} / {item.type_name}.{item.field_name}"
            if denied:
                assert answer.data["node"][item.field_name] is None
                assert len(answer.errors) == 1
            else:
                assert answer.errors == [], (setup.name, item, answer.errors)
            cases += 1
    print(f"rights matrix: {cases} cases checked")  # noqa: T201
    assert cases == len(fields) * (len(SETUPS) + 1) + len(OUTSIDERS) * len(ids)


async def test_aliases_fragments_and_nodes_cannot_widen_access(
    as_setup: Callable[[Setup], Run], sql: asyncpg.Connection
) -> None:
    ids = await ids_of(sql, ACCOMPANIED)
    partner = as_setup(SETUPS[4])  # identity scope only: no IDENTITY_MIN
    document = """
    query ($id: ID!, $ids: [ID!]!) {
      a: node(id: $id) { ... on Person { name: lastName } }
      b: node(id: $id) { ...P }
      c: nodes(ids: $ids) { ... on Person { lastName phone } }
    }
    fragment P on Person { lastName firstName phone }"""
    answer = await partner(document, id=ids["Person"], ids=[ids["Person"]])
    assert answer.data is not None
    assert answer.data["a"] == {"name": None}
    assert answer.data["b"]["lastName"] is None
    assert answer.data["b"]["firstName"] is None
    assert answer.data["c"][0]["lastName"] is None
    assert forbidden_at(answer, ["a", "name"])
    assert forbidden_at(answer, ["b", "lastName"])
    assert forbidden_at(answer, ["c", 0, "lastName"])
    assert not forbidden_at(answer, ["c", 0, "phone"])  # granted


async def test_nested_paths_never_leave_the_scope(as_user: Viewer, sql: asyncpg.Connection) -> None:
    """A social worker sees the households they accompany only, however they navigate:
    persons' other households (past or present) and their members read as not found."""
    alpha = as_user("sw.alpha@demo.siao")
    households = await sql.fetch(
        "SELECT reference FROM households WHERE territory_code = '75' ORDER BY reference"
    )
    answer = await alpha(
        """{ households(first: 100) { totalCount edges { node { reference
             members { person { currentHousehold { reference }
                                memberships { household { reference } } } } } } } }"""
    )
    assert answer.errors == []
    assert answer.data is not None
    seen = {e["node"]["reference"] for e in answer.data["households"]["edges"]}
    assert seen == {f"75{n:08d}" for n in range(1, 41)}
    assert len(households) > len(seen)
    for edge in answer.data["households"]["edges"]:
        for member in edge["node"]["members"]:
            person = member["person"]
            reachable = [person["currentHousehold"]] + [
                m["household"] for m in person["memberships"]
            ]
            for household in reachable:
                assert household is None or household["reference"] in seen


async def test_denied_mutations_change_nothing(
    as_user: Viewer, as_setup: Callable[[Setup], Run], sql: asyncpg.Connection
) -> None:
    household = await one_row(
        sql, "SELECT id, version FROM households WHERE reference = $1", ACCOMPANIED
    )
    person = await one_row(
        sql,
        "SELECT p.id, p.version FROM persons p JOIN memberships m ON m.person_id = p.id "
        "WHERE m.household_id = $1 AND upper_inf(m.validity) LIMIT 1",
        household["id"],
    )
    before = await snapshot(sql)
    attempts: list[tuple[Run, str, dict[str, Any]]] = [
        (
            as_user("beneficiary@demo.siao"),
            UPDATE_PERSON,
            {
                "personId": gid("Person", person["id"]),
                "expectedVersion": person["version"],
                "firstName": "Intrus",
            },
        ),
        (
            as_user("manager.chrs@demo.siao"),
            CREATE_DEMAND,
            {"householdId": gid("Household", household["id"]), "kind": "EMERGENCY"},
        ),
        (
            as_user("observer@demo.siao"),
            CREATE_HOUSEHOLD,
            {
                "territory": "75",
                "members": [
                    {"firstName": "A", "lastName": "B", "relationship": "REFERENCE_PERSON"}
                ],
            },
        ),
        (
            as_setup(SETUPS[3]),
            CREATE_DEMAND,
            {"householdId": gid("Household", household["id"]), "kind": "INSERTION"},
        ),
    ]
    for run, document, variables in attempts:
        answer = await run(document, input=variables)
        assert "FORBIDDEN" in answer.codes, answer
    assert await snapshot(sql) == before


async def test_a_beneficiary_may_create_a_demand_for_their_own_household(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await one_row(sql, "SELECT id FROM households WHERE reference = $1", ACCOMPANIED)
    answer = await as_user("beneficiary@demo.siao")(
        CREATE_DEMAND, input={"householdId": gid("Household", household["id"]), "kind": "INSERTION"}
    )
    assert answer.data is not None
    assert answer.data["createDemand"]["userErrors"] == []


async def test_the_observer_reaches_no_person_through_any_root_field(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    observer = as_user("observer@demo.siao")
    ids = await ids_of(sql, ACCOMPANIED)
    schema = build_schema()._schema
    assert schema.query_type is not None
    roots = set(schema.query_type.fields)
    checked = set()
    answer = await observer(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=list(ids.values())
    )
    assert answer.data == {"nodes": [None] * len(ids)}
    checked.add("nodes")
    answer = await observer("query ($id: ID!) { node(id: $id) { id } }", id=ids["Person"])
    assert answer.data == {"node": None}
    checked.add("node")
    answer = await observer(f'{{ household(reference: "{ACCOMPANIED}") {{ id }} }}')
    assert answer.data == {"household": None}
    checked.add("household")
    answer = await observer("{ households(first: 100) { totalCount edges { node { id } } } }")
    assert answer.data == {"households": {"totalCount": 0, "edges": []}}
    checked.add("households")
    answer = await observer('{ searchPersons(query: "Le Goff") { totalCount } }')
    assert answer.codes == ["FORBIDDEN"]
    checked.add("searchPersons")
    answer = await observer("{ demands(first: 5) { totalCount } }")
    assert answer.data == {"demands": None}
    assert answer.codes == ["FORBIDDEN"]
    checked.add("demands")
    answer = await observer("{ structures { name } }")
    assert answer.codes == ["FORBIDDEN"]
    checked.add("structures")
    answer = await observer("{ me { login role } }")
    assert answer.data == {"me": {"login": "observer@demo.siao", "role": "OBSERVER"}}
    checked.add("me")
    assert checked == roots, f"a new root field needs an observer check: {roots - checked}"


SEARCH = """
query ($q: String!) {
  searchPersons(query: $q, first: 100) { edges { node {
    firstName lastName birthDate householdReference accompanyingOrganisations
  } } }
}"""


async def test_search_shows_minimal_identity_and_whom_to_call(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    person = await one_row(
        sql,
        "SELECT p.first_name, p.last_name FROM persons p JOIN memberships m ON m.person_id = p.id "
        "JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) LIMIT 1",
        ACCOMPANIED,
    )
    beta = as_user("sw.beta@demo.siao")
    # Bêta does not accompany the household: it is not visible to them...
    hidden = await beta(f'{{ household(reference: "{ACCOMPANIED}") {{ id }} }}')
    assert hidden.data == {"household": None}
    # ...but a search in "wrong" order, without accents, finds the person and whom to call.
    query = f"{person['last_name']} {person['first_name']}".upper()
    answer = await beta(SEARCH, q=query)
    assert answer.errors == []
    assert answer.data is not None
    hits = [
        e["node"]
        for e in answer.data["searchPersons"]["edges"]
        if e["node"]["householdReference"] == ACCOMPANIED
    ]
    assert hits
    assert hits[0]["accompanyingOrganisations"] == ["Association Alpha Solidarité"]


async def test_protected_households_are_absent_from_searches_by_outsiders_and_partner_feeds(
    as_user: Viewer, as_setup: Callable[[Setup], Run], sql: asyncpg.Connection
) -> None:
    person = await one_row(
        sql,
        "SELECT p.last_name, p.first_name FROM persons p JOIN memberships m ON m.person_id = p.id "
        "JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) LIMIT 1",
        PROTECTED_BY_ALPHA,
    )
    query = f"{person['first_name']} {person['last_name']}"

    def refs(answer: Answer) -> set[str]:
        assert answer.data is not None, answer.errors
        return {e["node"]["householdReference"] for e in answer.data["searchPersons"]["edges"]}

    assert PROTECTED_BY_ALPHA in refs(await as_user("sw.alpha@demo.siao")(SEARCH, q=query))
    assert PROTECTED_BY_ALPHA not in refs(await as_user("sw.beta@demo.siao")(SEARCH, q=query))
    assert PROTECTED_BY_ALPHA not in refs(await as_user("siao.75@demo.siao")(SEARCH, q=query))

    partner = as_setup(SETUPS[3])
    feed = await partner("{ households(first: 100) { totalCount edges { node { reference } } } }")
    assert feed.data is not None
    references = {e["node"]["reference"] for e in feed.data["households"]["edges"]}
    assert references
    assert not references & {PROTECTED_BY_ALPHA, PROTECTED_NOBODY, "7500000042"}


async def test_sensitive_reads_are_logged_once_per_request_and_shown_in_the_access_log(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    before = await sql.fetchval("SELECT count(*) FROM access_events")
    siao = as_user("siao.75@demo.siao")
    answer = await siao(
        f'{{ a: household(reference: "{ACCOMPANIED}") {{ isProtected }} '
        f'b: household(reference: "{ACCOMPANIED}") {{ p: isProtected q: isProtected }} }}'
    )
    assert answer.errors == []
    assert await sql.fetchval("SELECT count(*) FROM access_events") == before + 1
    event = await one_row(sql, "SELECT * FROM access_events ORDER BY at DESC LIMIT 1")
    assert event["category"] == Category.VIOLENCE.value
    assert event["viewer_label"]

    log_query = f"""{{ household(reference: "{ACCOMPANIED}") {{
        accessLog(first: 5) {{ totalCount edges {{ node {{ reader category }} }} }} }} }}"""
    for login in ("sw.alpha@demo.siao", "beneficiary@demo.siao"):
        seen = await as_user(login)(log_query)
        assert seen.errors == []
        assert seen.data is not None
        log = seen.data["household"]["accessLog"]
        assert {"reader": event["viewer_label"], "category": "VIOLENCE"} in [
            e["node"] for e in log["edges"]
        ]


async def test_a_social_worker_who_creates_a_household_accompanies_it(as_user: Viewer) -> None:
    alpha = as_user("sw.alpha@demo.siao")
    created = await alpha(
        CREATE_HOUSEHOLD,
        input={
            "territory": "75",
            "members": [
                {"firstName": "Inès", "lastName": "Benali", "relationship": "REFERENCE_PERSON"}
            ],
        },
    )
    assert created.data is not None
    household = created.data["createHousehold"]["household"]
    assert household is not None
    again = await alpha(f'{{ household(reference: "{household["reference"]}") {{ id }} }}')
    assert again.data == {"household": {"id": household["id"]}}


async def test_partner_tokens_with_an_unknown_scope_are_refused(
    app: Starlette, settings: Settings
) -> None:
    import jwt

    from auth.tokens import load_or_create_dev_key

    token = partner_token(settings, frozenset({PartnerScope.IDENTITY_MIN_READ}))
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "everything:write"
    forged = jwt.encode(claims, load_or_create_dev_key(settings), algorithm="EdDSA")
    async with http_client(app, {"Authorization": f"Bearer {forged}"}) as client:
        response = await client.post("/graphql", json={"query": "{ me { login } }"})
    assert response.status_code == 401


def test_published_rights_matrix_is_current() -> None:
    assert DOC_PATH.read_text() == render(), (
        "docs/rights-matrix.md is stale: run `siao rights-matrix --write` and commit it"
    )


async def test_every_field_the_change_log_records_has_a_category(sql: asyncpg.Connection) -> None:
    """A field missing from `AUDITED_FIELDS` is masked for everyone: safe, but useless."""
    recorded = await sql.fetch(
        "SELECT DISTINCT entity_type, jsonb_object_keys(changes) AS field FROM audit_events"
    )
    assert {r["entity_type"] for r in recorded} >= {"Person", "Evaluation", "Note", "Demand"}
    missing = [
        (r["entity_type"], r["field"])
        for r in recorded
        if r["field"] not in audited_fields().get(r["entity_type"], {})
    ]
    assert missing == []


def test_every_personal_looking_field_has_a_category() -> None:
    """Deny by default: a field whose name says it carries personal data must be restricted."""
    personal = {
        "firstName",
        "lastName",
        "usageName",
        "birthDate",
        "sex",
        "phone",
        "nationality",
        "reference",
        "members",
        "memberHistory",
        "changes",
        "householdReference",
        "concernedPersons",
        "title",
        "body",
        "sections",
        "criteria",
        "vulnerabilityLevel",
    }
    restricted = {(f.type_name, f.field_name) for f in restricted_fields()}
    schema = build_schema()._schema
    missing = [
        f"{name}.{field}"
        for name, graphql_type in schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType) and not name.startswith("__")
        for field in graphql_type.fields
        if field in personal and (name, field) not in restricted
    ]
    assert missing == []
