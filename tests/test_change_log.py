"""The change log tab ("Suivi des modifications"): filters by actor, kind of record,
action, period and words, masked values that a search cannot probe, and a flat cost."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run
from tests.test_evaluations import household_gid
from tests.test_notes import CREATE, UPDATE

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"
OPERATOR = "siao.75@demo.siao"
BENEFICIARY = "beneficiary@demo.siao"

LOG = """
query ($ref: String!, $filter: AuditFilter, $first: Int!, $after: String) {
  household(reference: $ref) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { at action entityType entityId changes actor { id displayName } } }
    }
  }
}"""


async def log(run: Run, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every event of 7500000001 matching `filter`, page after page."""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await run(LOG, ref=FIRST_75_REFERENCE, filter=filter, first=100, after=after)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        page = answer.data["household"]["auditEvents"]
        events += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(events)
            return events
        after = page["pageInfo"]["endCursor"]


async def write_note(as_user: Viewer, sql: asyncpg.Connection) -> dict[str, Any]:
    """Alpha writes a note about 7500000001 and edits it."""
    alpha = as_user(ALPHA)
    created = await alpha(
        CREATE,
        input={
            "householdId": await household_gid(sql, FIRST_75_REFERENCE),
            "title": "Démarches à Zanzibar",
            "body": "Le consulat demande un extrait d'acte de naissance.",
        },
    )
    assert created.data is not None
    note: dict[str, Any] = created.data["createNote"]["note"]
    edited = await alpha(
        UPDATE, input={"noteId": note["id"], "expectedVersion": 1, "body": "Acte reçu."}
    )
    assert edited.data is not None
    assert edited.data["updateNote"]["userErrors"] == []
    return note


async def test_the_log_filters_by_kind_of_record_action_and_actor(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    note = await write_note(as_user, sql)
    operator = as_user(OPERATOR)
    everything = await log(operator)
    notes = await log(operator, {"entityType": "Note"})
    assert notes
    assert {e["entityType"] for e in notes} == {"Note"}
    assert len(notes) == sum(1 for e in everything if e["entityType"] == "Note")
    updates = await log(operator, {"entityType": "Note", "action": "UPDATE"})
    assert [(e["entityId"], e["action"]) for e in updates] == [(note["id"], "UPDATE")]
    assert updates[0]["changes"]["body"]["after"] == "Acte reçu."
    alpha_id = updates[0]["actor"]["id"]
    by_alpha = await log(operator, {"actor": alpha_id})
    assert by_alpha
    assert {e["actor"]["id"] for e in by_alpha} == {alpha_id}
    assert len(by_alpha) == sum(1 for e in everything if (e["actor"] or {}).get("id") == alpha_id)


async def test_the_log_filters_by_period(as_user: Viewer) -> None:
    operator = as_user(OPERATOR)
    everything = await log(operator)
    instants = sorted(datetime.fromisoformat(e["at"]) for e in everything)
    start, end = instants[len(instants) // 3], instants[2 * len(instants) // 3]
    window = await log(operator, {"from": start.isoformat(), "to": end.isoformat()})
    expected = [e for e in everything if start <= datetime.fromisoformat(e["at"]) < end]
    assert [e["entityId"] for e in window] == [e["entityId"] for e in expected]
    assert window, "the demo household has a history"
    later = await log(operator, {"from": (instants[-1] + timedelta(seconds=1)).isoformat()})
    assert later == []


async def test_words_are_found_in_values_the_viewer_may_read_and_in_no_other(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    note = await write_note(as_user, sql)
    operator, household = as_user(OPERATOR), as_user(BENEFICIARY)
    found = await log(operator, {"text": "zanzibar"})  # case and accents ignored
    assert [e["entityId"] for e in found] == [note["id"]]
    assert [e["action"] for e in await log(operator, {"text": "ACTE RECU"})] == ["UPDATE"]
    # The household reads its log, but not its notes: the note's events are there, masked,
    # and a search for what they contain finds nothing (it would tell what it contains).
    masked = await log(household, {"entityType": "Note", "action": "CREATE"})
    mine = next(e for e in masked if e["entityId"] == note["id"])
    assert mine["changes"]["title"] == {"restricted": "NOTES"}
    assert await log(household, {"text": "zanzibar"}) == []
    # ...while words in what it may read are found: the actor's name, the action.
    by_name = await log(household, {"text": "camille rousseau", "entityType": "Note"})
    assert note["id"] in [e["entityId"] for e in by_name]


async def test_malformed_filters_are_refused_clearly(as_user: Viewer) -> None:
    operator = as_user(OPERATOR)
    for filter, code in (
        ({"actor": "not-an-id"}, "BAD_USER_INPUT"),
        ({"text": "x" * 201}, "BAD_USER_INPUT"),
        ({"from": "yesterday"}, "BAD_USER_INPUT"),
    ):
        answer = await operator(LOG, ref=FIRST_75_REFERENCE, filter=filter, first=5)
        assert answer.codes == [code], filter


LIST = """
query ($first: Int!, $since: DateTime) {
  households(first: $first) { edges { node {
    reference
    auditEvents(first: 5, filter: {from: $since, text: "a"}) {
      totalCount edges { node { action changes actor { displayName } } }
    }
    creations: auditEvents(first: 3, filter: {action: "CREATE", entityType: "Person"}) {
      totalCount edges { node { changes } }
    }
  } } }
}"""


async def test_filtered_logs_of_a_list_cost_the_same_for_5_and_40_households(
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
    alpha = as_user(ALPHA)
    since = "2025-01-01T00:00:00+00:00"
    small = await alpha(LIST, first=5, since=since)
    large = await alpha(LIST, first=40, since=since)
    assert small.errors == large.errors == []
    assert large.data is not None
    assert all(e["node"]["creations"]["totalCount"] for e in large.data["households"]["edges"])
    assert small.extensions["sql"]["statements"] == large.extensions["sql"]["statements"]
    assert waits == []
