"""Priorities owned by the SIAO (issue 13, item 3): a demand's rank in the work queue is set
by the territory's SIAO only; anyone else's `priority` is a suggestion kept with its author,
and the demand gets the default until the SIAO ranks it with `setDemandPriority` (audited
with its reason, versioned). Next to the rank: the household's latest flash vulnerability
level, under the category of the evaluation it comes from."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from tests.conftest import Answer, Run, http_client, one_row
from tests.test_mutations import gid, snapshot
from tests.test_rights import partner_token

Viewer = Callable[[str | None], Run]
SIAO = "siao.75@demo.siao"
SIAO_93 = "siao.93@demo.siao"
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40
BENEFICIARY = "beneficiary@demo.siao"  # household 7500000001
MANAGER = "manager.chrs@demo.siao"
OWN = "7500000001"  # the beneficiary's household, accompanied by Alpha

CREATE = """
mutation ($input: CreateDemandInput!) {
  createDemand(input: $input) {
    userErrors { code message field }
    demand { id version priority suggestedPriority prioritySuggestedBy { displayName role } }
  }
}"""
SET = """
mutation ($input: SetDemandPriorityInput!) {
  setDemandPriority(input: $input) {
    userErrors { code message field currentVersion currentStatus }
    demand { id version priority suggestedPriority }
  }
}"""
QUEUE = """
query ($after: String, $filter: DemandFilter) {
  demands(first: 100, after: $after, orderBy: PRIORITY, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id priority } }
  }
}"""
LOG = """
query ($id: ID!) {
  household(id: $id) {
    auditEvents(first: 50) { edges { node { action entityType changes actor { displayName } } } }
  }
}"""
LEVELS = """
query ($first: Int!) {
  demands(first: $first, filter: {status: [SUBMITTED, IN_REVIEW, REFUSED, ORIENTED, ACCEPTED,
                                           IN_STAY, CLOSED, CANCELLED, PLACED, UNMET]}) {
    edges { node { priority suggestedPriority vulnerabilityLevel
                   prioritySuggestedBy { displayName } household { id } } }
  }
}"""


async def household_id(sql: asyncpg.Connection, reference: str) -> str:
    row = await one_row(sql, "SELECT id FROM households WHERE reference = $1", reference)
    return gid("Household", row["id"])


async def create(run: Run, household: str, **extra: Any) -> dict[str, Any]:
    answer = await run(CREATE, input={"householdId": household, "kind": "INSERTION", **extra})
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result: dict[str, Any] = answer.data["createDemand"]
    assert result["userErrors"] == [], result
    return dict(result["demand"])


async def queue(run: Run, **filter_: Any) -> list[dict[str, Any]]:
    """The whole work queue as `run` sees it, most urgent first (every page)."""
    edges: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await run(QUEUE, after=after, filter=filter_ or None)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        page = answer.data["demands"]
        edges += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return edges
        after = page["pageInfo"]["endCursor"]


def rank(entries: list[dict[str, Any]], demand_id: str) -> int:
    return [e["id"] for e in entries].index(demand_id)


async def demand_state(sql: asyncpg.Connection) -> dict[str, Any]:
    """What a refused write must not change: `snapshot` and every demand's rank and version."""
    ranks = await sql.fetchval(
        "SELECT md5(string_agg(concat_ws('|', id, version, priority, suggested_priority, "
        "priority_suggested_by, updated_at), ',' ORDER BY id)) FROM demands"
    )
    return {**await snapshot(sql), "demands": ranks}


async def set_priority(run: Run, demand: str, priority: int, version: int, reason: str) -> Any:
    return await run(
        SET,
        input={
            "demandId": demand,
            "priority": priority,
            "reason": reason,
            "expectedVersion": version,
        },
    )


# -- creating: the rank is the SIAO's, others suggest ---------------------------------------


async def test_a_beneficiarys_priority_1_is_a_suggestion_and_does_not_jump_the_queue(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_id(sql, OWN)
    demand = await create(as_user(BENEFICIARY), household, priority=1)
    assert demand["priority"] == 3
    assert demand["suggestedPriority"] == 1
    assert demand["prioritySuggestedBy"]["role"] == "BENEFICIARY"
    row = await one_row(
        sql,
        "SELECT d.priority, d.suggested_priority, u.login FROM demands d "
        "JOIN users u ON u.id = d.priority_suggested_by WHERE d.id = $1",
        _raw(demand["id"]),
    )
    assert (row["priority"], row["suggested_priority"], row["login"]) == (3, 1, BENEFICIARY)
    siao = as_user(SIAO)
    entries = await queue(siao)
    urgent = [e for e in entries if e["priority"] < 3]
    assert urgent, "the demo queue has demands of priority 1 and 2"
    assert rank(entries, demand["id"]) >= len(urgent)
    assert demand["id"] not in {e["id"] for e in await queue(siao, priority=1)}


async def test_a_social_workers_priority_is_a_suggestion_with_its_author(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    demand = await create(as_user(ALPHA), await household_id(sql, OWN), priority=1)
    assert (demand["priority"], demand["suggestedPriority"]) == (3, 1)
    assert demand["prioritySuggestedBy"]["role"] == "SOCIAL_WORKER"
    plain = await create(as_user(ALPHA), await household_id(sql, OWN))
    assert (plain["priority"], plain["suggestedPriority"], plain["prioritySuggestedBy"]) == (
        3,
        None,
        None,
    )


async def test_the_siao_sets_the_priority_when_it_creates_the_demand(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao = as_user(SIAO)
    demand = await create(siao, await household_id(sql, OWN), priority=1)
    assert (demand["priority"], demand["suggestedPriority"]) == (1, None)
    assert demand["id"] in {e["id"] for e in await queue(siao, priority=1)}


# -- setDemandPriority -----------------------------------------------------------------------


async def test_the_siao_reranks_a_demand_and_the_queue_follows_at_once(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_id(sql, OWN)
    demand = await create(as_user(BENEFICIARY), household, priority=1)
    siao = as_user(SIAO)
    before = await queue(siao)
    urgent = len([e for e in before if e["priority"] == 1])
    assert rank(before, demand["id"]) >= urgent
    answer = await set_priority(siao, demand["id"], 1, demand["version"], "Bébé de 2 mois")
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result = answer.data["setDemandPriority"]
    assert result["userErrors"] == []
    assert result["demand"] == {
        "id": demand["id"],
        "version": demand["version"] + 1,
        "priority": 1,
        "suggestedPriority": 1,
    }
    after = await queue(siao)
    assert rank(after, demand["id"]) < urgent + 1
    assert after[rank(after, demand["id"])]["priority"] == 1
    # The change log shows the SIAO the change and its reason.
    log = await siao(LOG, id=household)
    assert log.errors == [], log.errors
    assert log.data is not None
    events = [e["node"] for e in log.data["household"]["auditEvents"]["edges"]]
    (event,) = [e for e in events if e["action"] == "SET_PRIORITY"]
    assert event["entityType"] == "Demand"
    assert event["changes"]["priority"] == {"before": 3, "after": 1}
    assert event["changes"]["reason"] == {"before": None, "after": "Bébé de 2 mois"}
    assert event["actor"]["displayName"]
    # The household reads its own log: the rank moved, the professionals' words stay masked.
    own = await as_user(BENEFICIARY)(LOG, id=household)
    assert own.data is not None, own.errors
    (seen,) = [
        e["node"]
        for e in own.data["household"]["auditEvents"]["edges"]
        if e["node"]["action"] == "SET_PRIORITY"
    ]
    assert seen["changes"]["priority"] == {"before": 3, "after": 1}
    assert "reason" not in seen["changes"]


async def test_each_refusal_writes_nothing(as_user: Viewer, sql: asyncpg.Connection) -> None:
    siao = as_user(SIAO)
    household = await household_id(sql, OWN)
    demand = await create(as_user(ALPHA), household, priority=2)
    done = await create(siao, household)
    cancel = await siao(
        "mutation ($id: ID!) { cancelDemand(input: {demandId: $id}) { userErrors { code } } }",
        id=done["id"],
    )
    assert cancel.data is not None
    assert cancel.data["cancelDemand"]["userErrors"] == []
    cancelled_version = done["version"] + 1
    version = demand["version"]
    cases: list[tuple[str, int, int, str, str, str]] = [
        (demand["id"], 0, version, "Trop tôt", "INVALID_INPUT", "priority"),
        (demand["id"], 5, version, "Trop tard", "INVALID_INPUT", "priority"),
        (demand["id"], 1, version, "   ", "INVALID_REASON", "reason"),
        (demand["id"], 1, version, "", "INVALID_REASON", "reason"),
        (demand["id"], 1, version, "a\u200bb", "INVALID_REASON", "reason"),
        (demand["id"], 1, version, "x" * 2001, "INVALID_REASON", "reason"),
        (demand["id"], 1, version + 7, "Urgent", "STALE_VERSION", "expectedVersion"),
        (done["id"], 1, cancelled_version, "Urgent", "DEMAND_ENDED", "demandId"),
        (gid("Demand", uuid.uuid4()), 1, 1, "Urgent", "NOT_FOUND", "demandId"),
    ]
    before = await demand_state(sql)
    for demand_id, priority, expected, reason, code, field in cases:
        answer = await set_priority(siao, demand_id, priority, expected, reason)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        result = answer.data["setDemandPriority"]
        assert result["demand"] is None
        (error,) = result["userErrors"]
        assert (error["code"], error["field"]) == (code, [field]), (priority, reason, error)
        if code == "STALE_VERSION":
            assert error["currentVersion"] == version
        if code == "DEMAND_ENDED":
            assert error["currentStatus"] == "CANCELLED"
        assert await demand_state(sql) == before, code


async def test_two_concurrent_rankings_with_the_same_version_one_wins(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    demand = await create(as_user(ALPHA), await household_id(sql, OWN), priority=1)
    siao = as_user(SIAO)
    answers = await asyncio.gather(
        set_priority(siao, demand["id"], 1, demand["version"], "Enfant malade"),
        set_priority(siao, demand["id"], 4, demand["version"], "Hébergé chez un tiers"),
    )
    results = [a.data["setDemandPriority"] for a in answers if a.data]
    assert len(results) == 2
    won = [r for r in results if not r["userErrors"]]
    lost = [r for r in results if r["userErrors"]]
    assert len(won) == 1, results
    assert len(lost) == 1, results
    assert [e["code"] for e in lost[0]["userErrors"]] == ["STALE_VERSION"]
    assert lost[0]["userErrors"][0]["currentVersion"] == demand["version"] + 1
    row = await one_row(
        sql, "SELECT priority, version FROM demands WHERE id = $1", _raw(demand["id"])
    )
    assert (row["priority"], row["version"]) == (
        won[0]["demand"]["priority"],
        demand["version"] + 1,
    )
    events = await sql.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'SET_PRIORITY'",
        _raw(demand["id"]),
    )
    assert events == 1


async def test_only_the_territorys_siao_ranks(
    as_user: Viewer, app: Starlette, settings: Settings, sql: asyncpg.Connection
) -> None:
    demand = await create(as_user(ALPHA), await household_id(sql, OWN), priority=1)
    before = await demand_state(sql)
    for login in (ALPHA, BENEFICIARY, MANAGER, "observer@demo.siao", "admin@demo.siao"):
        answer = await set_priority(as_user(login), demand["id"], 1, demand["version"], "Moi")
        assert answer.codes == ["FORBIDDEN"], (login, answer)
    # The SIAO of another territory: the demand does not exist for it.
    answer = await set_priority(as_user(SIAO_93), demand["id"], 1, demand["version"], "Urgent")
    assert answer.data is not None, answer.errors
    assert [e["code"] for e in answer.data["setDemandPriority"]["userErrors"]] == ["NOT_FOUND"]
    # A partner system, even with the demands scope, writes nothing.
    token = partner_token(
        settings, frozenset({PartnerScope.IDENTITY_MIN_READ, PartnerScope.DEMANDS_READ})
    )
    document = {
        "query": SET,
        "variables": {
            "input": {
                "demandId": demand["id"],
                "priority": 1,
                "reason": "Urgent",
                "expectedVersion": demand["version"],
            }
        },
    }
    async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
        body = (await client.post("/graphql", json=document)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await demand_state(sql) == before


# -- the vulnerability level next to the rank ------------------------------------------------


async def test_the_vulnerability_level_is_the_latest_flash_one_in_flat_statements(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao = as_user(SIAO)
    # Every demand carries a suggestion (as if its creators had made one), whose author
    # each entry shows: one more relation per level, whatever the page's size.
    await sql.execute(
        "UPDATE demands SET suggested_priority = 1, priority_suggested_by = "
        "(SELECT id FROM users WHERE login = $1)",
        ALPHA,
    )
    small: Answer = await siao(LEVELS, first=5)
    large: Answer = await siao(LEVELS, first=50)
    assert small.errors == [], small.errors
    assert large.errors == [], large.errors
    assert large.data is not None
    edges = [e["node"] for e in large.data["demands"]["edges"]]
    assert len(edges) == 50
    levels = {
        gid("Household", r["household_id"]): r["vulnerability_level"]
        for r in await sql.fetch(
            "SELECT DISTINCT ON (household_id) household_id, vulnerability_level "
            "FROM evaluations WHERE kind = 'FLASH' ORDER BY household_id, created_at DESC, id"
        )
    }
    assert any(e["vulnerabilityLevel"] is not None for e in edges), "the demo has flash levels"
    assert all(e["prioritySuggestedBy"] is not None for e in edges)
    for entry in edges:
        assert entry["vulnerabilityLevel"] == levels.get(entry["household"]["id"])
    assert small.extensions["sql"]["statements"] == large.extensions["sql"]["statements"]


async def test_the_vulnerability_level_is_read_only_under_its_category(
    as_user: Viewer, app: Starlette, settings: Settings, sql: asyncpg.Connection
) -> None:
    """A partner with the demands scope reads the demand, its rank and the suggestion, not
    the level (FLASH_EVALUATION is no partner's scope)."""
    token = partner_token(
        settings, frozenset({PartnerScope.IDENTITY_MIN_READ, PartnerScope.DEMANDS_READ})
    )
    document = {"query": LEVELS, "variables": {"first": 5}}
    async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
        body = (await client.post("/graphql", json=document)).json()
    edges = body["data"]["demands"]["edges"]
    assert edges, "the partner reads demands"
    assert all(e["node"]["vulnerabilityLevel"] is None for e in edges)
    assert all(e["node"]["priority"] in (1, 2, 3, 4) for e in edges)
    denied = {tuple(e["path"][-1:]) for e in body["errors"]}
    assert denied == {("vulnerabilityLevel",)}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


def _raw(global_id: str) -> uuid.UUID:
    import base64

    return uuid.UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


async def test_no_other_path_ranks_a_demand(as_user: Viewer, sql: asyncpg.Connection) -> None:
    """A draft submitted later, a new flash evaluation at level 4, a cancelled and remade
    demand: none of them sets the rank; the demand keeps the default until the SIAO."""
    household = await household_id(sql, OWN)
    beneficiary = as_user(BENEFICIARY)
    draft = await create(beneficiary, household, priority=1, draft=True)
    assert (draft["priority"], draft["suggestedPriority"]) == (3, 1)
    submitted = await beneficiary(
        "mutation ($id: ID!) { submitDemand(input: {demandId: $id}) { userErrors { code } "
        "demand { priority suggestedPriority } } }",
        id=draft["id"],
    )
    assert submitted.data is not None, submitted.errors
    assert submitted.data["submitDemand"]["demand"] == {"priority": 3, "suggestedPriority": 1}
    evaluation = await as_user(ALPHA)(
        "mutation ($input: RecordEvaluationInput!) { recordEvaluation(input: $input) "
        "{ userErrors { code } } }",
        input={
            "householdId": household,
            "kind": "FLASH",
            "vulnerabilityLevel": 4,
            "criteria": ["STREET_TONIGHT"],
        },
    )
    assert evaluation.data is not None, evaluation.errors
    assert evaluation.data["recordEvaluation"]["userErrors"] == []
    entries = await queue(as_user(SIAO))
    (entry,) = [e for e in entries if e["id"] == draft["id"]]
    assert entry["priority"] == 3
    row = await one_row(
        sql, "SELECT priority, version FROM demands WHERE id = $1", _raw(draft["id"])
    )
    assert row["priority"] == 3
    level = await as_user(SIAO)(
        "query ($id: ID!) { node(id: $id) { ... on Demand { priority vulnerabilityLevel } } }",
        id=draft["id"],
    )
    assert level.data == {"node": {"priority": 3, "vulnerabilityLevel": 4}}, level.errors
