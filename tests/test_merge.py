"""Merging duplicate persons keeps every invariant and can be undone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from tests.conftest import Run, one_row
from tests.test_mutations import CREATE_DEMAND, CREATE_HOUSEHOLD, UPDATE_PERSON, gid, snapshot

Viewer = Callable[[str | None], Run]
SIAO = "siao.75@demo.siao"

MERGE = """
mutation ($input: MergePersonsInput!) {
  mergePersons(input: $input) {
    userErrors { code message field } mergeId person { id firstName lastName version }
  }
}"""
UNMERGE = """
mutation ($input: UnmergePersonsInput!) {
  unmergePersons(input: $input) { userErrors { code message } person { id lastName } }
}"""
NODE = "query ($id: ID!) { node(id: $id) { id ... on Person { lastName } } }"


async def _duplicate(run: Run, sql: asyncpg.Connection) -> tuple[asyncpg.Record, str, str]:
    """An existing person of 75 and a new household with their duplicate (and a child)."""
    original = await one_row(
        sql,
        "SELECT p.* FROM persons p JOIN memberships m ON m.person_id = p.id "
        "AND upper_inf(m.validity) JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = '7500000030' AND m.relationship = 'REFERENCE_PERSON'",
    )
    created = await run(
        CREATE_HOUSEHOLD,
        input={
            "territory": "75",
            "members": [
                {
                    "firstName": original["first_name"],
                    "lastName": original["last_name"].upper(),
                    "relationship": "REFERENCE_PERSON",
                    "birthDate": original["birth_date"].isoformat(),
                },
            ],
        },
    )
    assert created.data is not None
    household = created.data["createHousehold"]["household"]
    duplicate = household["members"][0]["person"]["id"]
    demand = await run(CREATE_DEMAND, input={"householdId": household["id"], "kind": "EMERGENCY"})
    assert demand.data is not None
    return original, duplicate, household["id"]


async def _state(sql: asyncpg.Connection) -> dict[str, Any]:
    memberships = await sql.fetchval(
        "SELECT md5(string_agg(id::text || person_id::text || validity::text, ',' ORDER BY id)) "
        "FROM memberships"
    )
    concerns = await sql.fetchval(
        "SELECT md5(string_agg(demand_id::text || person_id::text, ',' ORDER BY demand_id, "
        "person_id)) FROM demand_persons"
    )
    households = await sql.fetchval(
        "SELECT md5(string_agg(id::text || coalesce(closed_at::text, ''), ',' ORDER BY id)) "
        "FROM households"
    )
    return {"memberships": memberships, "concerns": concerns, "households": households}


async def test_merge_is_explicit_about_overlaps_keeps_invariants_and_can_be_undone(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    run = as_user(SIAO)
    original, duplicate, household = await _duplicate(run, sql)
    keep = gid("Person", original["id"])
    before = await _state(sql)

    implicit = await run(MERGE, input={"keepId": keep, "mergeId": duplicate})
    assert implicit.data is not None
    assert [e["code"] for e in implicit.data["mergePersons"]["userErrors"]] == [
        "OVERLAPPING_MEMBERSHIPS"
    ]
    assert await _state(sql) == before

    merged = await run(
        MERGE, input={"keepId": keep, "mergeId": duplicate, "dropOverlappingMemberships": True}
    )
    assert merged.data is not None
    result = merged.data["mergePersons"]
    assert result["userErrors"] == []
    assert result["person"]["id"] == keep
    # The duplicate's id now answers the survivor; its household was closed.
    survivor = await run(NODE, id=duplicate)
    assert survivor.data == {"node": {"id": keep, "lastName": original["last_name"]}}
    closed = await sql.fetchval(
        "SELECT closed_at FROM households WHERE id = $1::uuid", _raw(household)
    )
    assert closed is not None
    # Invariant 1: the survivor has exactly one open membership; the demand followed.
    open_count = await sql.fetchval(
        "SELECT count(*) FROM memberships WHERE person_id = $1 AND upper_inf(validity)",
        original["id"],
    )
    assert open_count == 1
    assert (
        await sql.fetchval(
            "SELECT count(*) FROM demand_persons WHERE person_id = $1::uuid", _raw(duplicate)
        )
        == 0
    )

    undone = await run(UNMERGE, input={"mergeId": result["mergeId"]})
    assert undone.data is not None
    assert undone.data["unmergePersons"]["userErrors"] == []
    assert await _state(sql) == before
    back = await run(NODE, id=duplicate)
    assert back.data is not None
    assert back.data["node"]["id"] == duplicate

    again = await run(UNMERGE, input={"mergeId": result["mergeId"]})
    assert again.data is not None
    assert [e["code"] for e in again.data["unmergePersons"]["userErrors"]] == ["ALREADY_UNDONE"]


async def test_an_unmerge_is_refused_once_the_survivor_was_edited(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    run = as_user(SIAO)
    original, duplicate, _ = await _duplicate(run, sql)
    keep = gid("Person", original["id"])
    merged = await run(
        MERGE, input={"keepId": keep, "mergeId": duplicate, "dropOverlappingMemberships": True}
    )
    assert merged.data is not None
    result = merged.data["mergePersons"]
    edited = await run(
        UPDATE_PERSON,
        input={
            "personId": keep,
            "expectedVersion": result["person"]["version"],
            "usageName": "Autre",
        },
    )
    assert edited.data is not None
    assert edited.data["updatePerson"]["userErrors"] == []
    before = await snapshot(sql)
    refused = await run(UNMERGE, input={"mergeId": result["mergeId"]})
    assert refused.data is not None
    assert [e["code"] for e in refused.data["unmergePersons"]["userErrors"]] == ["WRITTEN_SINCE"]
    assert await snapshot(sql) == before


async def test_merging_a_person_with_themselves_or_out_of_scope_is_refused(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    run = as_user(SIAO)
    mine = await one_row(
        sql,
        "SELECT p.id FROM persons p JOIN memberships m ON m.person_id = p.id "
        "JOIN households h ON h.id = m.household_id WHERE h.territory_code = '75' LIMIT 1",
    )
    theirs = await one_row(
        sql,
        "SELECT p.id FROM persons p JOIN memberships m ON m.person_id = p.id "
        "JOIN households h ON h.id = m.household_id WHERE h.territory_code = '93' LIMIT 1",
    )
    before = await snapshot(sql)
    same = await run(
        MERGE, input={"keepId": gid("Person", mine["id"]), "mergeId": gid("Person", mine["id"])}
    )
    other = await run(
        MERGE, input={"keepId": gid("Person", mine["id"]), "mergeId": gid("Person", theirs["id"])}
    )
    assert same.data is not None
    assert other.data is not None
    assert [e["code"] for e in same.data["mergePersons"]["userErrors"]] == ["SAME_PERSON"]
    assert [e["code"] for e in other.data["mergePersons"]["userErrors"]] == ["NOT_FOUND"]
    assert await snapshot(sql) == before


def _raw(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]
