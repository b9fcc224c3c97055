"""The record's header (`Household.summary`): right values, each field's category, and no
statement per household (it reuses the loaders of the record's tabs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import asyncpg
import pytest

from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run, one_row
from tests.test_mutations import gid

Viewer = Callable[[str | None], Run]

SUMMARY_FIELDS = """
memberCount
referencePerson { id firstName lastName }
openDemands
latestFlashLevel
pinnedNotes { id title }
lastSavedAt
"""
HEADER = f"""
query ($ref: String!) {{
  household(reference: $ref) {{ summary {{ {SUMMARY_FIELDS} }} }}
}}"""


async def test_the_header_says_what_the_record_holds(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await one_row(
        sql, "SELECT id, last_activity_at FROM households WHERE reference = $1", FIRST_75_REFERENCE
    )
    hid = household["id"]
    members = await sql.fetch(
        "SELECT person_id, relationship FROM memberships "
        "WHERE household_id = $1 AND validity @> now()",
        hid,
    )
    reference = next(m for m in members if m["relationship"] == "REFERENCE_PERSON")
    open_demands = await sql.fetchval(
        "SELECT count(*) FROM demands WHERE household_id = $1 "
        "AND status NOT IN ('CLOSED', 'CANCELLED', 'UNMET')",
        hid,
    )
    level = await sql.fetchval(
        "SELECT vulnerability_level FROM evaluations WHERE household_id = $1 AND kind = 'FLASH' "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        hid,
    )
    pinned = await sql.fetch(
        "SELECT id FROM notes WHERE household_id = $1 AND deleted_at IS NULL "
        "AND pinned_until > now() ORDER BY created_at DESC, id DESC",
        hid,
    )
    answer = await as_user("sw.alpha@demo.siao")(HEADER, ref=FIRST_75_REFERENCE)
    assert answer.errors == []
    assert answer.data is not None
    summary = answer.data["household"]["summary"]
    assert summary["memberCount"] == len(members) > 0
    assert summary["referencePerson"]["id"] == gid("Person", reference["person_id"])
    assert summary["openDemands"] == open_demands
    assert summary["latestFlashLevel"] == level is not None
    assert [n["id"] for n in summary["pinnedNotes"]] == [gid("Note", r["id"]) for r in pinned]
    assert summary["lastSavedAt"] == household["last_activity_at"].isoformat()


async def test_each_part_of_the_header_keeps_its_category(as_user: Viewer) -> None:
    """The household reads its own header, but not its professionals' notes."""
    answer = await as_user("beneficiary@demo.siao")(HEADER, ref=FIRST_75_REFERENCE)
    assert answer.data is not None
    summary = answer.data["household"]["summary"]
    assert summary["pinnedNotes"] is None
    assert answer.codes == ["FORBIDDEN"]
    assert answer.errors[0]["path"] == ["household", "summary", "pinnedNotes"]
    assert summary["memberCount"] > 0
    assert summary["referencePerson"] is not None
    assert summary["latestFlashLevel"] is not None


HEADER_LIST = f"""
query ($first: Int!) {{
  households(first: $first) {{ edges {{ node {{ reference summary {{ {SUMMARY_FIELDS} }} }} }} }}
}}"""
TABS = """
query ($first: Int!) {
  households(first: $first) { edges { node {
    reference
    members { relationship person { firstName lastName } }
    latestEvaluation(kind: FLASH) { vulnerabilityLevel }
    notes(first: 10, filter: {pinned: true}) { edges { node { title } } }
    %s
  } } }
}"""


async def test_the_header_costs_no_statement_per_household(
    as_user: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resolvers.loaders

    waits: list[object] = []

    def counting(value: object) -> bool:
        awaitable = inspect.isawaitable(value)
        if awaitable:
            waits.append(value)
        return awaitable

    monkeypatch.setattr(resolvers.loaders, "isawaitable", counting)
    operator = as_user("siao.75@demo.siao")
    small = await operator(HEADER_LIST, first=5)
    large = await operator(HEADER_LIST, first=50)
    assert small.errors == large.errors == []
    assert large.data is not None
    assert len(large.data["households"]["edges"]) == 50
    statements = small.extensions["sql"]["statements"]
    assert statements == large.extensions["sql"]["statements"]
    # households, memberships, persons, open demand counts, latest flash evaluations,
    # pinned notes, the last change the SIAO may see (it is not shown health saves), and
    # the access log's one INSERT (notes were read)
    assert statements == 8
    assert waits == []


async def test_next_to_the_tabs_the_header_adds_its_demand_count_and_what_changed(
    as_user: Viewer,
) -> None:
    # The demand count; and for the SIAO, who is not shown every change (health saves),
    # the last change it may see instead of the household's own column.
    for login, expected in (("sw.alpha@demo.siao", 1), ("siao.75@demo.siao", 2)):
        viewer = as_user(login)
        without = await viewer(TABS % "", first=50)
        with_header = await viewer(TABS % f"summary {{ {SUMMARY_FIELDS} }}", first=50)
        assert without.errors == with_header.errors == []
        before = without.extensions["sql"]["statements"]
        assert with_header.extensions["sql"]["statements"] - before == expected, login
