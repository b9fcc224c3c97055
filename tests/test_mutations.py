"""Writes: each mutation's effect, its audit trail, and its refusals (nothing written)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from models.demo import FIRST_75_REFERENCE, FIRST_93_REFERENCE
from tests.conftest import Run, http_client, one_row

Viewer = Callable[[str | None], Run]
OPERATOR = "siao.75@demo.siao"

CREATE_HOUSEHOLD = """
mutation ($input: CreateHouseholdInput!) {
  createHousehold(input: $input) {
    userErrors { code message field }
    household { id reference version members { relationship person { id firstName lastName } } }
  }
}"""
ADD_MEMBER = """
mutation ($input: AddHouseholdMemberInput!) {
  addHouseholdMember(input: $input) {
    userErrors { code message field currentVersion }
    household { version members { person { firstName } } }
    person { id firstName }
  }
}"""
MOVE = """
mutation ($input: MoveHouseholdMemberInput!) {
  moveHouseholdMember(input: $input) {
    userErrors { code message }
    household { id reference members { relationship person { id } } }
  }
}"""
UPDATE_PERSON = """
mutation ($input: UpdatePersonInput!) {
  updatePerson(input: $input) {
    userErrors { code message field currentVersion }
    person { firstName usageName version }
  }
}"""
CREATE_DEMAND = """
mutation ($input: CreateDemandInput!) {
  createDemand(input: $input) {
    userErrors { code message field }
    demand { id kind status concernedPersons { id } household { reference } }
  }
}"""

TABLES = (
    "households",
    "persons",
    "memberships",
    "demands",
    "demand_persons",
    "evaluations",
    "notes",
    "note_persons",
    "audit_events",
)


async def snapshot(sql: asyncpg.Connection) -> dict[str, Any]:
    """Row counts, household/person versions, notes' content, pins and deletions: what a
    refused write must not change."""
    counts = {t: await sql.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
    versions = await sql.fetchval(
        "SELECT md5(string_agg(id::text || version, ',' ORDER BY id)) FROM households"
    )
    people = await sql.fetchval(
        "SELECT md5(string_agg(id::text || version || first_name, ',' ORDER BY id)) FROM persons"
    )
    notes = await sql.fetchval(
        "SELECT md5(string_agg(concat_ws('|', id, version, title, body, pinned_until, deleted_at),"
        " ',' ORDER BY id)) FROM notes"
    )
    return {**counts, "household_versions": versions, "person_versions": people, "notes": notes}


def gid(type_name: str, raw: object) -> str:
    return base64.b64encode(f"{type_name}:{raw}".encode()).decode()


def member(
    first: str, last: str, relationship: str = "REFERENCE_PERSON", **extra: Any
) -> dict[str, Any]:
    return {"firstName": first, "lastName": last, "relationship": relationship, **extra}


async def household_row(sql: asyncpg.Connection, reference: str) -> asyncpg.Record:
    row = await one_row(sql, "SELECT * FROM households WHERE reference = $1", reference)
    assert row is not None
    return row


async def test_create_household_writes_persons_memberships_and_audit_in_one_go(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(
        CREATE_HOUSEHOLD,
        input={
            "territory": "75",
            "members": [
                member("Hélène", "N'Diaye", sex="FEMALE", birthDate="1984-03-02"),
                member("Jean-Pierre", "N'Diaye", "CHILD", birthDate="2015-07-14"),
            ],
        },
    )
    assert answer.errors == []
    assert answer.data is not None
    payload = answer.data["createHousehold"]
    assert payload["userErrors"] == []
    household = payload["household"]
    assert len(household["reference"]) == 10
    assert household["reference"].isdigit()
    assert [m["relationship"] for m in household["members"]] == ["REFERENCE_PERSON", "CHILD"]
    after = await snapshot(sql)
    assert after["households"] == before["households"] + 1
    assert after["persons"] == before["persons"] + 2
    assert after["memberships"] == before["memberships"] + 2
    events = await sql.fetch(
        "SELECT action, entity_type, changes, actor_id FROM audit_events "
        "WHERE household_id = (SELECT id FROM households WHERE reference = $1)",
        household["reference"],
    )
    assert sorted((e["action"], e["entity_type"]) for e in events) == [
        ("ADD_MEMBER", "Membership"),
        ("ADD_MEMBER", "Membership"),
        ("CREATE", "Household"),
        ("CREATE", "Person"),
        ("CREATE", "Person"),
    ]
    assert all(e["actor_id"] is not None for e in events)
    person_event = next(e for e in events if e["entity_type"] == "Person")
    assert '"before": null' in person_event["changes"]


BAD_HOUSEHOLDS = {
    "unknown territory": (
        {"territory": "99", "members": [member("Ana", "Lopes")]},
        "UNKNOWN_TERRITORY",
    ),
    "territory out of scope": (
        {"territory": "93", "members": [member("Ana", "Lopes")]},
        "TERRITORY_OUT_OF_SCOPE",
    ),
    "empty member list": ({"territory": "75", "members": []}, "NO_MEMBERS"),
    "no reference person": (
        {"territory": "75", "members": [member("Ana", "Lopes", "SPOUSE")]},
        "ONE_REFERENCE_PERSON",
    ),
    "10,000 character name": (
        {"territory": "75", "members": [member("A" * 10_000, "Lopes")]},
        "INVALID_NAME",
    ),
    "control characters": (
        {"territory": "75", "members": [member("Ana\x01\x07", "Lopes")]},
        "INVALID_NAME",
    ),
    "blank name": ({"territory": "75", "members": [member("Ana", "   ")]}, "INVALID_NAME"),
    "birth date in the future": (
        {
            "territory": "75",
            "members": [
                member("Ana", "Lopes", birthDate=str(datetime.now(UTC).date() + timedelta(days=2)))
            ],
        },
        "INVALID_BIRTH_DATE",
    ),
    "birth date before 1900": (
        {"territory": "75", "members": [member("Ana", "Lopes", birthDate="1899-12-31")]},
        "INVALID_BIRTH_DATE",
    ),
}


@pytest.mark.parametrize("case", list(BAD_HOUSEHOLDS))
async def test_bad_households_are_refused_and_nothing_is_written(
    as_user: Viewer, sql: asyncpg.Connection, case: str
) -> None:
    payload, code = BAD_HOUSEHOLDS[case]
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(CREATE_HOUSEHOLD, input=payload)
    assert answer.errors == []
    assert answer.data is not None
    result = answer.data["createHousehold"]
    assert result["household"] is None
    assert code in [e["code"] for e in result["userErrors"]]
    assert all(e["message"] for e in result["userErrors"])
    assert await snapshot(sql) == before


async def test_add_member_then_a_stale_version_is_refused(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_row(sql, FIRST_75_REFERENCE)
    run = as_user(OPERATOR)
    answer = await run(
        ADD_MEMBER,
        input={
            "householdId": gid("Household", household["id"]),
            "expectedVersion": household["version"],
            "person": member("Zoé", "Martin-Dubois", "CHILD", birthDate="2020-01-01"),
        },
    )
    assert answer.data is not None
    result = answer.data["addHouseholdMember"]
    assert result["userErrors"] == []
    assert result["household"]["version"] == household["version"] + 1
    assert "Zoé" in [m["person"]["firstName"] for m in result["household"]["members"]]

    before = await snapshot(sql)
    stale = await run(
        ADD_MEMBER,
        input={
            "householdId": gid("Household", household["id"]),
            "expectedVersion": household["version"],
            "person": member("Anaïs", "Martin", "CHILD"),
        },
    )
    assert stale.data is not None
    errors = stale.data["addHouseholdMember"]["userErrors"]
    assert [e["code"] for e in errors] == ["STALE_VERSION"]
    assert errors[0]["currentVersion"] == household["version"] + 1
    assert await snapshot(sql) == before


async def test_a_person_of_another_household_cannot_be_added_without_a_move(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_row(sql, FIRST_75_REFERENCE)
    stranger = await sql.fetchval(
        """SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id
           WHERE upper_inf(m.validity) AND h.territory_code = '75' AND h.id <> $1 LIMIT 1""",
        household["id"],
    )
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(
        ADD_MEMBER,
        input={
            "householdId": gid("Household", household["id"]),
            "expectedVersion": household["version"],
            "personId": gid("Person", stranger),
        },
    )
    assert answer.data is not None
    assert [e["code"] for e in answer.data["addHouseholdMember"]["userErrors"]] == [
        "ALREADY_IN_HOUSEHOLD"
    ]
    assert await snapshot(sql) == before


async def test_move_closes_and_opens_memberships_at_the_same_instant(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    source = await household_row(sql, FIRST_75_REFERENCE)
    person_id = await sql.fetchval(
        "SELECT person_id FROM memberships WHERE household_id = $1 AND upper_inf(validity) "
        "ORDER BY relationship = 'REFERENCE_PERSON' LIMIT 1",
        source["id"],
    )
    target = await one_row(
        sql,
        "SELECT * FROM households WHERE territory_code = '75' AND closed_at IS NULL "
        "AND id <> $1 ORDER BY reference LIMIT 1",
        source["id"],
    )
    answer = await as_user(OPERATOR)(
        MOVE,
        input={
            "personId": gid("Person", person_id),
            "toHouseholdId": gid("Household", target["id"]),
            "relationship": "OTHER_RELATIVE",
            "expectedVersion": target["version"],
        },
    )
    assert answer.data is not None
    assert answer.data["moveHouseholdMember"]["userErrors"] == []
    rows = await sql.fetch(
        "SELECT household_id, lower(validity) AS since, upper(validity) AS until "
        "FROM memberships WHERE person_id = $1 ORDER BY lower(validity)",
        person_id,
    )
    assert rows[-1]["household_id"] == target["id"]
    assert rows[-1]["until"] is None
    assert rows[-2]["household_id"] == source["id"]
    assert rows[-2]["until"] == rows[-1]["since"]
    actions = await sql.fetch(
        "SELECT action FROM audit_events WHERE entity_type = 'Membership' "
        "AND action LIKE 'MOVE_%' AND changes::text LIKE '%' || $1 || '%'",
        str(person_id),
    )
    assert {a["action"] for a in actions} >= {"MOVE_IN"}


async def test_twenty_concurrent_moves_leave_one_open_membership_and_no_gap(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    households = await sql.fetch(
        "SELECT id FROM households WHERE territory_code = '75' AND closed_at IS NULL "
        "ORDER BY reference LIMIT 4"
    )
    person_id = await sql.fetchval(
        "SELECT person_id FROM memberships WHERE household_id = $1 AND upper_inf(validity) "
        "AND relationship <> 'REFERENCE_PERSON' LIMIT 1",
        households[0]["id"],
    ) or await sql.fetchval(
        "SELECT person_id FROM memberships WHERE household_id = $1 AND upper_inf(validity)",
        households[0]["id"],
    )
    run = as_user(OPERATOR)
    targets = [households[1 + i % 3]["id"] for i in range(20)]
    answers = await asyncio.gather(
        *(
            run(
                MOVE,
                input={"personId": gid("Person", person_id), "toHouseholdId": gid("Household", t)},
            )
            for t in targets
        )
    )
    for answer in answers:
        assert answer.errors == []
        assert answer.data is not None
        codes = [e["code"] for e in answer.data["moveHouseholdMember"]["userErrors"]]
        assert codes in ([], ["SAME_HOUSEHOLD"])
    rows = await sql.fetch(
        "SELECT lower(validity) AS since, upper(validity) AS until FROM memberships "
        "WHERE person_id = $1 ORDER BY lower(validity)",
        person_id,
    )
    assert sum(1 for r in rows if r["until"] is None) == 1
    assert rows[-1]["until"] is None
    for earlier, later in itertools.pairwise(rows):
        assert earlier["until"] == later["since"], "history has a gap or an overlap"


async def test_update_person_audits_each_field_and_refuses_a_stale_version(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    person = await one_row(
        sql,
        """SELECT p.* FROM persons p JOIN memberships m ON m.person_id = p.id
           JOIN households h ON h.id = m.household_id
           WHERE upper_inf(m.validity) AND h.territory_code = '75' LIMIT 1""",
    )
    run = as_user(OPERATOR)
    answer = await run(
        UPDATE_PERSON,
        input={
            "personId": gid("Person", person["id"]),
            "expectedVersion": person["version"],
            "firstName": "  Marie-Hélène  ",
            "usageName": "Le Goff",
        },
    )
    assert answer.data is not None
    result = answer.data["updatePerson"]
    assert result["userErrors"] == []
    assert result["person"] == {
        "firstName": "Marie-Hélène",
        "usageName": "Le Goff",
        "version": person["version"] + 1,
    }
    change = await sql.fetchval(
        "SELECT changes FROM audit_events WHERE entity_id = $1 AND action = 'UPDATE'",
        person["id"],
    )
    assert "Marie-Hélène" in change
    assert person["first_name"] in change

    before = await snapshot(sql)
    stale = await run(
        UPDATE_PERSON,
        input={
            "personId": gid("Person", person["id"]),
            "expectedVersion": person["version"],
            "firstName": "Autre",
        },
    )
    assert stale.data is not None
    errors = stale.data["updatePerson"]["userErrors"]
    assert [(e["code"], e["currentVersion"]) for e in errors] == [
        ("STALE_VERSION", person["version"] + 1)
    ]
    assert await snapshot(sql) == before


async def test_create_demand_concerns_every_current_member_by_default(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_row(sql, FIRST_75_REFERENCE)
    members = await sql.fetchval(
        "SELECT count(*) FROM memberships WHERE household_id = $1 AND upper_inf(validity)",
        household["id"],
    )
    answer = await as_user(OPERATOR)(
        CREATE_DEMAND, input={"householdId": gid("Household", household["id"]), "kind": "EMERGENCY"}
    )
    assert answer.data is not None
    result = answer.data["createDemand"]
    assert result["userErrors"] == []
    assert result["demand"]["status"] == "SUBMITTED"
    assert len(result["demand"]["concernedPersons"]) == members
    assert (
        await sql.fetchval(
            "SELECT count(*) FROM audit_events WHERE entity_type = 'Demand' AND action = 'CREATE' "
            "AND entity_id = (SELECT id FROM demands ORDER BY created_at DESC LIMIT 1)"
        )
        == 1
    )


async def test_create_demand_refuses_persons_outside_the_household(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_row(sql, FIRST_75_REFERENCE)
    outsider = await sql.fetchval(
        "SELECT person_id FROM memberships WHERE household_id <> $1 LIMIT 1", household["id"]
    )
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(
        CREATE_DEMAND,
        input={
            "householdId": gid("Household", household["id"]),
            "kind": "INSERTION",
            "concernedPersonIds": [gid("Person", outsider)],
        },
    )
    assert answer.data is not None
    assert [e["code"] for e in answer.data["createDemand"]["userErrors"]] == ["NOT_A_MEMBER"]
    assert await snapshot(sql) == before


async def test_writes_to_a_household_out_of_scope_answer_not_found(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_row(sql, FIRST_93_REFERENCE)
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(
        CREATE_DEMAND, input={"householdId": gid("Household", household["id"]), "kind": "EMERGENCY"}
    )
    assert answer.data is not None
    assert [e["code"] for e in answer.data["createDemand"]["userErrors"]] == ["NOT_FOUND"]
    assert await snapshot(sql) == before


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        ('{ node(id: "bm90IGEgZ2xvYmFsIGlk") { id } }', {}, "BAD_USER_INPUT"),
        ('{ node(id: "%%%") { id } }', {}, "BAD_USER_INPUT"),
        ("{ households(first: 1000) { totalCount } }", {}, "BAD_USER_INPUT"),
        ('{ households(after: "!!") { totalCount } }', {}, "BAD_USER_INPUT"),
        ("{ households { edges { node { nope } } } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        (
            f'query ($at: DateTime!) {{ household(reference: "{FIRST_75_REFERENCE}") '
            "{ members(at: $at) { validFrom } } }",
            {"at": "yesterday"},
            "BAD_USER_INPUT",
        ),
        ("query ($n: Int!) { households(first: $n) { totalCount } }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_malformed_requests_get_a_coded_graphql_error(
    as_user: Viewer, document: str, variables: dict[str, Any], code: str
) -> None:
    answer = await as_user(OPERATOR)(document, **variables)
    assert code in answer.codes


async def test_a_document_that_does_not_parse_gets_a_coded_error(
    app: Starlette, token: Callable[[str], str]
) -> None:
    headers = {"Authorization": f"Bearer {token(OPERATOR)}"}
    async with http_client(app, headers) as client:
        response = await client.post("/graphql", json={"query": "{ households { "})
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["GRAPHQL_PARSE_FAILED"]


async def test_a_malformed_id_in_a_mutation_writes_nothing(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    answer = await as_user(OPERATOR)(
        CREATE_DEMAND, input={"householdId": "Zm9vOmJhcg==", "kind": "EMERGENCY"}
    )
    assert answer.codes == ["BAD_USER_INPUT"]
    assert await snapshot(sql) == before


async def test_a_query_fifty_levels_deep_is_refused_before_execution(as_user: Viewer) -> None:
    inner = "reference"
    for _ in range(25):
        inner = f"members {{ person {{ currentHousehold {{ {inner} }} }} }}"
    answer = await as_user(OPERATOR)(
        f'{{ household(reference: "{FIRST_75_REFERENCE}") {{ {inner} }} }}'
    )
    assert answer.data is None
    assert "GRAPHQL_VALIDATION_FAILED" in answer.codes


async def test_too_many_aliases_are_refused(as_user: Viewer) -> None:
    aliases = " ".join(f"a{i}: me {{ login }}" for i in range(60))
    answer = await as_user(OPERATOR)(f"{{ {aliases} }}")
    assert answer.data is None
    assert "GRAPHQL_VALIDATION_FAILED" in answer.codes


async def test_the_database_itself_refuses_overlapping_memberships(
    sql: asyncpg.Connection,
) -> None:
    row = await one_row(sql, "SELECT person_id, household_id FROM memberships LIMIT 1")
    with pytest.raises(asyncpg.ExclusionViolationError):
        await sql.execute(
            "INSERT INTO memberships (id, person_id, household_id, relationship, validity) "
            "VALUES ($1, $2, $3, 'OTHER', tstzrange(now() - interval '1 day', NULL))",
            uuid.uuid4(),
            row["person_id"],
            row["household_id"],
        )


async def test_the_database_refuses_a_person_without_household(sql: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="no open membership"):
        await sql.execute(
            "INSERT INTO persons (id, first_name, last_name, sex) "
            "VALUES ($1, 'Sans', 'Ménage', 'UNSPECIFIED')",
            uuid.uuid4(),
        )


async def test_a_household_has_at_most_thirty_members(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Unbounded, one mutation made a household of 500, and one read of it, costed at
    1,110 objects, returned 20 MB (members of members' households)."""
    from resolvers.household_write import MAX_MEMBERS

    run = as_user(OPERATOR)
    others = [member(f"Enfant{i}", "Grand", "CHILD") for i in range(MAX_MEMBERS)]
    before = await snapshot(sql)
    too_big = await run(
        CREATE_HOUSEHOLD, input={"territory": "75", "members": [member("Ana", "Grand"), *others]}
    )
    assert [e["code"] for e in (_data(too_big))["createHousehold"]["userErrors"]] == [
        "INVALID_INPUT"
    ]
    assert await snapshot(sql) == before

    full = await run(
        CREATE_HOUSEHOLD,
        input={"territory": "75", "members": [member("Ana", "Grand"), *others[1:]]},
    )
    household = (_data(full))["createHousehold"]["household"]
    assert len(household["members"]) == MAX_MEMBERS
    before = await snapshot(sql)
    one_more = await run(
        ADD_MEMBER,
        input={
            "householdId": household["id"],
            "expectedVersion": household["version"],
            "person": member("Léo", "Grand", "CHILD"),
        },
    )
    assert [e["code"] for e in (_data(one_more))["addHouseholdMember"]["userErrors"]] == [
        "INVALID_INPUT"
    ]
    elsewhere = await household_row(sql, FIRST_75_REFERENCE)
    mover = await sql.fetchval(
        "SELECT person_id FROM memberships WHERE household_id = $1 AND upper_inf(validity) LIMIT 1",
        elsewhere["id"],
    )
    moved_in = await run(
        MOVE,
        input={
            "personId": gid("Person", mover),
            "toHouseholdId": household["id"],
            "relationship": "OTHER",
        },
    )
    assert (_data(moved_in))["moveHouseholdMember"]["userErrors"][0]["code"] == "INVALID_INPUT"
    assert await snapshot(sql) == before


def _data(answer: Any) -> dict[str, Any]:
    assert answer.data is not None, answer.errors
    data: dict[str, Any] = answer.data
    return data
