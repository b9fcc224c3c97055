"""Merging duplicate persons keeps every invariant and can be undone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from tests.conftest import Run, one_row
from tests.test_evaluations import household_gid, raw_id
from tests.test_mutations import (
    ADD_MEMBER,
    CREATE_DEMAND,
    CREATE_HOUSEHOLD,
    UPDATE_PERSON,
    gid,
    snapshot,
)
from tests.test_notes import new_note
from tests.test_situation import save, saved

Viewer = Callable[[str | None], Run]
SIAO = "siao.75@demo.siao"
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40, and the households they create
BLANK = "7500000002"  # no situation section in the demo data

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
NOTE = "query ($id: ID!) { node(id: $id) { ... on Note { concernedPersons { id } } } }"
SECTIONS = """
query ($id: ID!) {
  household(id: $id) {
    situation {
      members { person { id } activity { status } administrative { residenceStatus } }
    }
  }
}"""


async def _duplicate(
    run: Run, sql: asyncpg.Connection, reference: str = "7500000030", territory: str = "75"
) -> tuple[asyncpg.Record, str, str]:
    """The reference person of a household of `territory` and a new household with their
    duplicate (and a demand)."""
    original = await one_row(
        sql,
        "SELECT p.* FROM persons p JOIN memberships m ON m.person_id = p.id "
        "AND upper_inf(m.validity) JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND m.relationship = 'REFERENCE_PERSON'",
        reference,
    )
    created = await run(
        CREATE_HOUSEHOLD,
        input={
            "territory": territory,
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
    note_concerns = await sql.fetchval(
        "SELECT md5(string_agg(note_id::text || person_id::text, ',' ORDER BY note_id, "
        "person_id)) FROM note_persons"
    )
    sections = await sql.fetchval(
        "SELECT md5(string_agg(concat_ws('|', id, household_id, person_id, section, version, "
        "data), ',' ORDER BY id)) FROM situation_sections"
    )
    attachments = await sql.fetchval(
        "SELECT md5(string_agg(id::text || coalesce(person_id::text, ''), ',' ORDER BY id)) "
        "FROM attachments"
    )
    return {
        "memberships": memberships,
        "concerns": concerns,
        "households": households,
        "note_concerns": note_concerns,
        "sections": sections,
        "attachments": attachments,
    }


async def _situation(run: Run, household: str) -> dict[str, tuple[str | None, str | None]]:
    """Each current member's (activity status, residence status), as the tab shows them."""
    answer = await run(SECTIONS, id=household)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return {
        m["person"]["id"]: (m["activity"]["status"], m["administrative"]["residenceStatus"])
        for m in answer.data["household"]["situation"]["members"]
    }


async def _concerned(run: Run, note: str) -> list[str]:
    answer = await run(NOTE, id=note)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return [p["id"] for p in answer.data["node"]["concernedPersons"]]


async def _attachment(sql: asyncpg.Connection, household: str, person: str) -> uuid.UUID:
    """An attachment of the person's activity section, written directly (an upload needs a
    multipart request, which is not what these tests are about)."""
    attachment = uuid.uuid4()
    await sql.execute(
        "INSERT INTO attachments (id, household_id, person_id, section, file_name, "
        "content_type, size, sha256, storage_key) VALUES ($1, $2, $3, 'ACTIVITY', "
        "'contrat.pdf', 'application/pdf', 2048, repeat('ab', 32), $4)",
        attachment,
        raw_id(household),
        raw_id(person),
        f"test/{attachment}",
    )
    return attachment


async def _merged(run: Run, keep: str, duplicate: str, **extra: Any) -> dict[str, Any]:
    answer = await run(MERGE, input={"keepId": keep, "mergeId": duplicate, **extra})
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result: dict[str, Any] = answer.data["mergePersons"]
    assert result["userErrors"] == []
    return result


async def _unmerged(run: Run, merge: str) -> list[str]:
    """The codes of the unmerge's refusal (empty: it was undone)."""
    answer = await run(UNMERGE, input={"mergeId": merge})
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return [e["code"] for e in answer.data["unmergePersons"]["userErrors"]]


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


async def test_notes_sections_and_attachments_follow_the_survivor_and_come_back_on_unmerge(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a duplicate (in a household of its own) with an activity and an administrative
    # section, a note about it and an attachment, and a survivor with only the latter section
    alpha = as_user(ALPHA)
    original, duplicate, household = await _duplicate(alpha, sql, BLANK)
    keep = gid("Person", original["id"])
    home = await household_gid(sql, BLANK)
    for owner, person, patch in [
        (household, duplicate, {"activity": {"status": "JOB_SEEKER"}}),
        (household, duplicate, {"administrative": {"residenceStatus": "REFUGEE"}}),
        (home, keep, {"administrative": {"residenceStatus": "FRENCH"}}),
    ]:
        assert (await saved(alpha, input=save(owner, patch, 0, person)))["userErrors"] == []
    note = await new_note(
        alpha, household, "Inscription France Travail", concernedPersonIds=[duplicate]
    )
    attachment = await _attachment(sql, household, duplicate)
    before = await _state(sql)
    assert (await _situation(alpha, home))[keep] == (None, "FRENCH")

    # When they are merged
    result = await _merged(alpha, keep, duplicate, dropOverlappingMemberships=True)

    # Then the note concerns the survivor, the activity it lacked is now its own, its own
    # administrative section stays (the duplicate's stays on the merged record, and the
    # merge says so), and the attachment is the survivor's
    assert await _concerned(alpha, note["id"]) == [keep]
    assert (await _situation(alpha, home))[keep] == ("JOB_SEEKER", "FRENCH")
    apart = await one_row(
        sql,
        "SELECT person_id, data FROM situation_sections WHERE section = 'ADMINISTRATIVE' "
        "AND person_id = $1",
        raw_id(duplicate),
    )
    assert json.loads(apart["data"]) == {"residenceStatus": "REFUGEE"}
    record = json.loads(await sql.fetchval("SELECT snapshot FROM person_merges"))
    assert [s["section"] for s in record["moved_sections"]] == ["ACTIVITY"]
    assert [s["section"] for s in record["kept_apart_sections"]] == ["ADMINISTRATIVE"]
    assert record["moved_note_concerns"] == [str(raw_id(note["id"]))]
    owner = await sql.fetchval("SELECT person_id FROM attachments WHERE id = $1", attachment)
    assert owner == original["id"]

    # And an unmerge puts everything back as it was
    assert await _unmerged(alpha, result["mergeId"]) == []
    assert await _state(sql) == before
    assert await _concerned(alpha, note["id"]) == [duplicate]
    assert (await _situation(alpha, household))[duplicate] == ("JOB_SEEKER", "REFUGEE")
    assert (await _situation(alpha, home))[keep] == (None, "FRENCH")
    owner = await sql.fetchval("SELECT person_id FROM attachments WHERE id = $1", attachment)
    assert owner == raw_id(duplicate)


async def test_a_note_about_both_records_concerns_the_survivor_once_then_both_again(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given the same person entered twice in one household, and a note about both records
    alpha = as_user(ALPHA)
    home = await household_gid(sql, BLANK)
    original = await one_row(
        sql,
        "SELECT p.*, h.version AS household_version FROM persons p JOIN memberships m "
        "ON m.person_id = p.id AND upper_inf(m.validity) JOIN households h "
        "ON h.id = m.household_id WHERE h.reference = $1 AND m.relationship = "
        "'REFERENCE_PERSON'",
        BLANK,
    )
    keep = gid("Person", original["id"])
    added = await alpha(
        ADD_MEMBER,
        input={
            "householdId": home,
            "expectedVersion": original["household_version"],
            "person": {
                "firstName": original["first_name"],
                "lastName": original["last_name"].upper(),
                "relationship": "OTHER",
            },
        },
    )
    assert added.data is not None
    assert added.data["addHouseholdMember"]["userErrors"] == []
    duplicate = added.data["addHouseholdMember"]["person"]["id"]
    note = await new_note(alpha, home, "Rendez-vous CAF", concernedPersonIds=[keep, duplicate])
    before = await _state(sql)

    # When they are merged (the duplicate's membership is folded into the survivor's)
    result = await _merged(alpha, keep, duplicate)

    # Then the note concerns the survivor once; an unmerge makes it concern both again
    assert await _concerned(alpha, note["id"]) == [keep]
    assert await _unmerged(alpha, result["mergeId"]) == []
    assert await _state(sql) == before
    assert sorted(await _concerned(alpha, note["id"])) == sorted([keep, duplicate])


async def test_an_unmerge_is_refused_once_a_moved_section_was_saved(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # Given a merge that moved the duplicate's activity section to the survivor
    alpha = as_user(ALPHA)
    original, duplicate, household = await _duplicate(alpha, sql, BLANK)
    keep = gid("Person", original["id"])
    home = await household_gid(sql, BLANK)
    activity = {"activity": {"status": "JOB_SEEKER"}}
    assert (await saved(alpha, input=save(household, activity, 0, duplicate)))["userErrors"] == []
    result = await _merged(alpha, keep, duplicate, dropOverlappingMemberships=True)
    # and the survivor's (moved) section saved since
    update = {"activity": {"status": "EMPLOYED_PERMANENT"}}
    assert (await saved(alpha, input=save(home, update, 1, keep)))["userErrors"] == []
    before, state = await snapshot(sql), await _state(sql)

    # When the merge is undone, then it is refused, and nothing changed
    assert await _unmerged(alpha, result["mergeId"]) == ["WRITTEN_SINCE"]
    assert await snapshot(sql) == before
    assert await _state(sql) == state
    assert (await _situation(alpha, home))[keep] == ("EMPLOYED_PERMANENT", None)
