"""Reading the household graph: scope, nesting, pagination, node ids, statement counts."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import asyncpg
import pytest

from models.demo import FIRST_75_REFERENCE, FIRST_93_REFERENCE
from tests.conftest import Run

Viewer = Callable[[str | None], Run]

HOUSEHOLD_BY_REFERENCE = """
query ($ref: String!) {
  household(reference: $ref) {
    id reference version territory { code name }
    members { relationship validFrom validTo person { firstName lastName birthDate sex } }
  }
}
"""

LIST = """
query ($first: Int!, $after: String) {
  households(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { reference territory { code } } }
  }
}
"""

WORK_LIST = """
query ($first: Int!) {
  households(first: $first) {
    edges { node {
      reference
      members { relationship person { firstName lastName currentHousehold { reference } } }
      demands(first: 5) { totalCount edges { node { kind status concernedPersons { firstName } } } }
      auditEvents(first: 5) { totalCount edges { node { action actor { displayName } } } }
    } }
  }
}
"""


async def test_an_operator_sees_the_households_of_their_territory_only(as_user: Viewer) -> None:
    paris = as_user("siao.75@demo.siao")
    seen: list[str] = []
    after = None
    while True:
        answer = await paris(LIST, first=100, after=after)
        assert answer.errors == []
        assert answer.data is not None
        page = answer.data["households"]
        seen += [e["node"]["reference"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == page["totalCount"] == len(set(seen))
    assert seen == sorted(seen)
    assert all(ref.startswith("75") for ref in seen)

    answer = await as_user("siao.93@demo.siao")(LIST, first=100)
    assert answer.data is not None
    assert {e["node"]["territory"]["code"] for e in answer.data["households"]["edges"]} == {"93"}


async def test_a_household_out_of_scope_reads_exactly_like_one_that_does_not_exist(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    paris = as_user("siao.75@demo.siao")
    other_id = await sql.fetchval(
        "SELECT id FROM households WHERE reference = $1", FIRST_93_REFERENCE
    )
    real = base64.b64encode(f"Household:{other_id}".encode()).decode()
    random = base64.b64encode(f"Household:{uuid.uuid4()}".encode()).decode()

    by_ref = await paris(HOUSEHOLD_BY_REFERENCE, ref=FIRST_93_REFERENCE)
    missing_ref = await paris(HOUSEHOLD_BY_REFERENCE, ref="0000000000")
    assert by_ref.data == missing_ref.data == {"household": None}
    assert by_ref.errors == missing_ref.errors == []

    for document in (
        "query ($id: ID!) { node(id: $id) { id } }",
        "query ($id: ID!) { household(id: $id) { reference } }",
        "query ($id: ID!) { nodes(ids: [$id]) { id } }",
    ):
        hidden, absent = await paris(document, id=real), await paris(document, id=random)
        assert hidden.data == absent.data
        assert hidden.errors == absent.errors == []


async def test_household_by_reference_shows_members_reference_person_first(
    as_user: Viewer,
) -> None:
    answer = await as_user("siao.75@demo.siao")(HOUSEHOLD_BY_REFERENCE, ref=FIRST_75_REFERENCE)
    assert answer.errors == []
    assert answer.data is not None
    household = answer.data["household"]
    assert household["reference"] == FIRST_75_REFERENCE
    assert household["territory"] == {"code": "75", "name": "Paris"}
    members = household["members"]
    assert members, "a demo household has members"
    assert members[0]["relationship"] == "REFERENCE_PERSON"
    assert all(m["validTo"] is None for m in members)


async def test_members_at_a_past_instant_and_member_history(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    moved = await sql.fetchrow(
        """SELECT h.reference, lower(m.validity) AS since, upper(m.validity) AS until,
                  m.person_id
           FROM memberships m JOIN households h ON h.id = m.household_id
           WHERE NOT upper_inf(m.validity) AND h.territory_code = '75' LIMIT 1"""
    )
    assert moved is not None, "the demo data has people who moved"
    query = """
    query ($ref: String!, $at: DateTime!) {
      household(reference: $ref) {
        before: members(at: $at) { person { id } }
        now: members { person { id } }
        memberHistory { validFrom validTo person { id } }
      }
    }"""
    instant = moved["since"] + (moved["until"] - moved["since"]) / 2
    answer = await as_user("siao.75@demo.siao")(
        query, ref=moved["reference"], at=instant.isoformat()
    )
    assert answer.errors == []
    assert answer.data is not None
    household = answer.data["household"]
    person_gid = base64.b64encode(f"Person:{moved['person_id']}".encode()).decode()
    assert person_gid in [m["person"]["id"] for m in household["before"]]
    assert person_gid not in [m["person"]["id"] for m in household["now"]]
    history = [m for m in household["memberHistory"] if m["person"]["id"] == person_gid]
    assert history
    assert history[0]["validTo"] is not None


async def test_nested_paths_stay_inside_the_scope(as_user: Viewer, sql: asyncpg.Connection) -> None:
    """A person who moved from 93 to 75 (or any cross-territory link) never opens a 93
    household to a 75 operator: nested fields go through the same scoped loaders."""
    answer = await as_user("siao.93@demo.siao")(WORK_LIST, first=50)
    assert answer.errors == []
    assert answer.data is not None
    for edge in answer.data["households"]["edges"]:
        assert edge["node"]["reference"].startswith("93")
        for member in edge["node"]["members"]:
            current = member["person"]["currentHousehold"]
            assert current is None or current["reference"].startswith("93")


async def test_a_viewer_without_territory_sees_no_household(as_user: Viewer) -> None:
    answer = await as_user("admin@demo.siao")(LIST, first=10)
    assert answer.errors == []
    assert answer.data == {
        "households": {
            "totalCount": 0,
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "edges": [],
        }
    }


async def test_statement_count_does_not_grow_with_the_number_of_households(
    as_user: Viewer,
) -> None:
    paris = as_user("siao.75@demo.siao")
    small, large = await paris(WORK_LIST, first=5), await paris(WORK_LIST, first=50)
    assert small.errors == large.errors == []
    assert small.data is not None
    assert large.data is not None
    assert len(small.data["households"]["edges"]) == 5
    assert len(large.data["households"]["edges"]) == 50
    statements = small.extensions["sql"]["statements"]
    assert statements == large.extensions["sql"]["statements"]
    # households, count, memberships, persons, memberships by person, demands page,
    # demand count, concerned persons, audit page, audit count, actors
    assert statements <= 12


async def test_pages_of_a_household_demands_follow_each_other(as_user: Viewer) -> None:
    query = """
    query ($ref: String!, $after: String) {
      household(reference: $ref) {
        demands(first: 1, after: $after) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { id createdAt } }
        }
      }
    }"""
    paris = as_user("siao.75@demo.siao")
    seen: list[str] = []
    after = None
    for _ in range(20):
        answer = await paris(query, ref=FIRST_75_REFERENCE, after=after)
        assert answer.errors == []
        assert answer.data is not None
        demands = answer.data["household"]["demands"]
        seen += [e["node"]["id"] for e in demands["edges"]]
        if not demands["pageInfo"]["hasNextPage"]:
            break
        after = demands["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == demands["totalCount"]


async def test_prefetched_levels_leave_no_field_waiting_on_the_database(
    as_user: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root lists prefetch each level of the selection, so every nested field resolver finds
    its value already loaded and answers synchronously (no task per object)."""
    import inspect

    import resolvers.loaders

    waits: list[object] = []

    def counting(value: object) -> bool:
        awaitable = inspect.isawaitable(value)
        if awaitable:
            waits.append(value)
        return awaitable

    monkeypatch.setattr(resolvers.loaders, "isawaitable", counting)
    answer = await as_user("siao.75@demo.siao")(WORK_LIST, first=50)
    assert answer.errors == []
    assert waits == []
