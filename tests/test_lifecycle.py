"""Demands through their lifecycle, orientations against live capacity, the night."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from auth.policy import DemandAction
from models import DemandKind, DemandStatus
from models.lifecycle import DOC_PATH, TRANSITIONS, InvalidTransition, document, transition
from tests.conftest import Run, one_row
from tests.test_mutations import CREATE_DEMAND, gid, snapshot

Viewer = Callable[[str | None], Run]
SIAO = "siao.75@demo.siao"
MANAGER = "manager.chrs@demo.siao"

RESULT = (
    "userErrors { code message currentStatus } demand { id status version } "
    "orientation { id status } stay { id validTo }"
)
INPUTS = {
    "submitDemand": "DemandActionInput",
    "reviewDemand": "DemandActionInput",
    "proposeOrientation": "ProposeOrientationInput",
    "decideOrientation": "DecideOrientationInput",
    "admit": "AdmitInput",
    "recordExit": "RecordExitInput",
    "closeDemand": "DemandActionInput",
    "cancelDemand": "DemandActionInput",
    "placeForNight": "PlaceForNightInput",
    "recordUnmet": "DemandActionInput",
}
NAME = {
    DemandAction.SUBMIT: "submitDemand",
    DemandAction.REVIEW: "reviewDemand",
    DemandAction.ORIENT: "proposeOrientation",
    DemandAction.ACCEPT: "decideOrientation",
    DemandAction.ADMIT: "admit",
    DemandAction.EXIT: "recordExit",
    DemandAction.CLOSE: "closeDemand",
    DemandAction.CANCEL: "cancelDemand",
    DemandAction.PLACE: "placeForNight",
    DemandAction.UNMET: "recordUnmet",
}
M = {
    action: f"mutation ($i: {INPUTS[name]}!) {{ {name}(input: $i) {{ {RESULT} }} }}"
    for action, name in NAME.items()
}
STRUCTURES = """
query ($type: PlaceType!) {
  structures(filter: {placeType: $type, hasVacancy: true}) {
    name places { id placeType capacity occupied vacancies version }
  }
}"""


async def place_of(sql: asyncpg.Connection, structure: str, place_type: str) -> asyncpg.Record:
    return await one_row(
        sql,
        "SELECT p.* FROM places p JOIN organisations o ON o.id = p.organisation_id "
        "WHERE o.name = $1 AND p.place_type = $2",
        structure,
        place_type,
    )


async def fresh_demand(run: Run, sql: asyncpg.Connection, reference: str, kind: str) -> str:
    household = await one_row(sql, "SELECT id FROM households WHERE reference = $1", reference)
    answer = await run(
        CREATE_DEMAND, input={"householdId": gid("Household", household["id"]), "kind": kind}
    )
    assert answer.data is not None, answer.errors
    assert answer.data["createDemand"]["userErrors"] == []
    return str(answer.data["createDemand"]["demand"]["id"])


async def do(run: Run, action: DemandAction, **data: Any) -> dict[str, Any]:
    answer = await run(M[action], i=data)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return dict(answer.data[NAME[action]])


async def test_insertion_from_first_call_to_exit(as_user: Viewer, sql: asyncpg.Connection) -> None:
    siao, manager = as_user(SIAO), as_user(MANAGER)
    place = await place_of(sql, "CHRS Les Tilleuls", "INSERTION")
    reference = "7500000011"
    hidden = await manager(f'{{ household(reference: "{reference}") {{ id }} }}')
    assert hidden.data == {"household": None}  # nothing oriented to the CHRS yet

    demand = await fresh_demand(siao, sql, reference, "INSERTION")
    assert (await do(siao, DemandAction.REVIEW, demandId=demand))["demand"]["status"] == "IN_REVIEW"
    proposed = await do(
        siao, DemandAction.ORIENT, demandId=demand, placeId=gid("Place", place["id"])
    )
    assert proposed["userErrors"] == []
    assert proposed["demand"]["status"] == "ORIENTED"
    assert proposed["orientation"]["status"] == "PROPOSED"
    held = await one_row(sql, "SELECT * FROM places WHERE id = $1", place["id"])
    assert held["vacancies"] == place["vacancies"] - 1

    seen = await manager(f'{{ household(reference: "{reference}") {{ reference }} }}')
    assert seen.data == {"household": {"reference": reference}}

    orientation = proposed["orientation"]["id"]
    accepted = await do(manager, DemandAction.ACCEPT, orientationId=orientation, accept=True)
    assert accepted["demand"]["status"] == "ACCEPTED"
    admitted = await do(manager, DemandAction.ADMIT, orientationId=orientation)
    assert admitted["demand"]["status"] == "IN_STAY"
    assert admitted["stay"]["validTo"] is None
    hosting = await one_row(sql, "SELECT * FROM places WHERE id = $1", place["id"])
    assert hosting["occupied"] == place["occupied"] + 1
    assert hosting["vacancies"] == place["vacancies"] - 1

    exited = await do(manager, DemandAction.EXIT, demandId=demand, reason="HOUSING")
    assert exited["demand"]["status"] == "CLOSED"
    assert exited["stay"]["validTo"] is not None
    after = await one_row(sql, "SELECT * FROM places WHERE id = $1", place["id"])
    assert (after["occupied"], after["vacancies"]) == (place["occupied"], place["vacancies"])
    actions = [
        r["action"]
        for r in await sql.fetch(
            "SELECT action FROM audit_events WHERE household_id = "
            "(SELECT id FROM households WHERE reference = $1) ORDER BY at, action",
            reference,
        )
    ]
    for expected in ("REVIEW", "PROPOSE", "ORIENT", "DECIDE", "ACCEPT", "ADMIT", "EXIT"):
        assert expected in actions


async def test_a_refusal_frees_the_place_and_the_demand_can_be_oriented_again(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao, manager = as_user(SIAO), as_user(MANAGER)
    place = await place_of(sql, "CHRS Les Tilleuls", "INSERTION")
    demand = await fresh_demand(siao, sql, "7500000012", "INSERTION")
    proposed = await do(
        siao, DemandAction.ORIENT, demandId=demand, placeId=gid("Place", place["id"])
    )
    orientation = proposed["orientation"]["id"]
    missing_reason = await manager(
        M[DemandAction.ACCEPT], i={"orientationId": orientation, "accept": False}
    )
    assert missing_reason.codes == ["BAD_USER_INPUT"]
    refused = await do(
        manager,
        DemandAction.ACCEPT,
        orientationId=orientation,
        accept=False,
        refusalReason="PROFILE_NOT_ADMISSIBLE",
    )
    assert refused["userErrors"] == []
    # Once refused, the household is no longer the structure's business: out of its scope.
    assert refused["demand"] is None
    status = await siao(f'{{ node(id: "{demand}") {{ ... on Demand {{ status }} }} }}')
    assert status.data == {"node": {"status": "REFUSED"}}
    assert (await one_row(sql, "SELECT vacancies FROM places WHERE id = $1", place["id"]))[
        "vacancies"
    ] == place["vacancies"]
    again = await do(siao, DemandAction.ORIENT, demandId=demand, placeId=gid("Place", place["id"]))
    assert again["demand"]["status"] == "ORIENTED"


async def test_the_night_a_115_operator_places_one_household_and_records_one_unmet(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao = as_user(SIAO)
    first = await fresh_demand(siao, sql, "7500000013", "EMERGENCY")
    second = await fresh_demand(siao, sql, "7500000014", "EMERGENCY")
    free = await siao(STRUCTURES, type="EMERGENCY")
    assert free.errors == []
    assert free.data is not None
    places = [
        p
        for s in free.data["structures"]
        for p in s["places"]
        if p["placeType"] == "EMERGENCY" and p["vacancies"] > 0
    ]
    assert places, "the demo CHU has emergency places free tonight"
    placed = await do(siao, DemandAction.PLACE, demandId=first, placeId=places[0]["id"])
    assert placed["userErrors"] == []
    assert placed["demand"]["status"] == "PLACED"
    unmet = await do(siao, DemandAction.UNMET, demandId=second)
    assert unmet["demand"]["status"] == "UNMET"
    nights = await sql.fetch(
        "SELECT status, night FROM demands WHERE id = ANY($1::uuid[])",
        [await demand_uuid(first), await demand_uuid(second)],
    )
    assert {r["status"] for r in nights} == {"PLACED", "UNMET"}
    assert all(r["night"] is not None for r in nights)


async def demand_uuid(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


def test_the_state_machine_refuses_every_move_it_does_not_list() -> None:
    checked = 0
    for action, rule in TRANSITIONS.items():
        for kind in DemandKind:
            for status in DemandStatus:
                if status in rule.sources and kind in rule.kinds:
                    assert transition(action, status, kind) is rule.target
                else:
                    with pytest.raises(InvalidTransition, match=status.value):
                        transition(action, status, kind)
                checked += 1
    assert checked == len(TRANSITIONS) * len(DemandKind) * len(DemandStatus)


async def test_invalid_transitions_through_the_api_name_the_current_status_and_change_nothing(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao = as_user(SIAO)
    chu = await place_of(sql, "CHU Les Glycines", "EMERGENCY")
    demands = await sql.fetch(
        "SELECT DISTINCT ON (d.status, d.kind) d.id, d.status, d.kind FROM demands d "
        "JOIN households h ON h.id = d.household_id WHERE h.territory_code = '75' "
        "ORDER BY d.status, d.kind, d.id"
    )
    before = await snapshot(sql)
    extra = {
        DemandAction.ORIENT: {"placeId": gid("Place", chu["id"])},
        DemandAction.PLACE: {"placeId": gid("Place", chu["id"])},
        DemandAction.EXIT: {"reason": "LEFT"},
    }
    cases = 0
    for action in (
        DemandAction.SUBMIT,
        DemandAction.REVIEW,
        DemandAction.ORIENT,
        DemandAction.CLOSE,
        DemandAction.CANCEL,
        DemandAction.PLACE,
        DemandAction.UNMET,
        DemandAction.EXIT,
    ):
        rule = TRANSITIONS[action]
        for d in demands:
            status, kind = DemandStatus(d["status"]), DemandKind(d["kind"])
            if status in rule.sources and kind in rule.kinds:
                continue
            result = await do(
                siao, action, demandId=gid("Demand", d["id"]), **extra.get(action, {})
            )
            assert [(e["code"], e["currentStatus"]) for e in result["userErrors"]] == [
                ("INVALID_TRANSITION", status.value)
            ], (action, status, kind)
            cases += 1
    assert cases > 40
    assert await snapshot(sql) == before


async def test_twenty_operators_racing_for_the_last_place_one_wins(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao, manager = as_user(SIAO), as_user(MANAGER)
    place = await place_of(sql, "CHRS Les Tilleuls", "STABILISATION")
    declared = await manager(
        "mutation ($i: DeclareVacanciesInput!) { declareVacancies(input: $i) "
        "{ userErrors { code message } place { vacancies } } }",
        i={
            "placeId": gid("Place", place["id"]),
            "vacancies": 1,
            "expectedVersion": place["version"],
        },
    )
    assert declared.data is not None
    assert declared.data["declareVacancies"] == {"userErrors": [], "place": {"vacancies": 1}}
    references = [f"75{n:08d}" for n in range(15, 40) if f"75{n:08d}" not in ("7500000003",)][:20]
    demands = [await fresh_demand(siao, sql, ref, "INSERTION") for ref in references]
    orientations_before = await sql.fetchval("SELECT count(*) FROM orientations")
    results = await asyncio.gather(
        *(
            do(siao, DemandAction.ORIENT, demandId=d, placeId=gid("Place", place["id"]))
            for d in demands
        )
    )
    winners = [r for r in results if not r["userErrors"]]
    losers = [r for r in results if r["userErrors"]]
    assert len(winners) == 1
    assert {e["code"] for r in losers for e in r["userErrors"]} == {"NO_VACANCY"}
    row = await one_row(sql, "SELECT * FROM places WHERE id = $1", place["id"])
    assert row["vacancies"] == 0
    assert await sql.fetchval("SELECT count(*) FROM orientations") == orientations_before + 1
    statuses = await sql.fetch(
        "SELECT status FROM demands WHERE id = ANY($1::uuid[])",
        [await demand_uuid(d) for d in demands],
    )
    assert sorted(r["status"] for r in statuses) == ["ORIENTED"] + ["SUBMITTED"] * 19


QUEUE = """
query ($first: Int!) {
  demands(first: $first, orderBy: PRIORITY) {
    totalCount
    edges { node { id kind status priority submittedAt
      concernedPersons { firstName lastName }
      household { reference members { relationship person { firstName lastName } }
        latestEvaluation(kind: FLASH) { vulnerabilityLevel createdAt } } } }
  }
}"""


async def test_the_work_queue_costs_the_same_statements_for_10_and_100_demands(
    as_user: Viewer,
) -> None:
    siao = as_user(SIAO)
    small, large = await siao(QUEUE, first=10), await siao(QUEUE, first=100)
    assert small.errors == large.errors == []
    assert small.data is not None
    assert large.data is not None
    edges = large.data["demands"]["edges"]
    assert len(small.data["demands"]["edges"]) == 10
    assert len(edges) == min(100, large.data["demands"]["totalCount"]) > 10
    keys = [(e["node"]["priority"], e["node"]["submittedAt"]) for e in edges]
    assert keys == sorted(keys)
    assert {e["node"]["status"] for e in edges} <= {"SUBMITTED", "IN_REVIEW", "REFUSED"}
    counts = (small.extensions["sql"]["statements"], large.extensions["sql"]["statements"])
    print(f"work queue statements: first=10 -> {counts[0]}, first=100 -> {counts[1]}")  # noqa: T201
    assert counts[0] == counts[1]


async def test_only_the_structure_decides_and_only_the_siao_orients(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao, manager = as_user(SIAO), as_user(MANAGER)
    place = await place_of(sql, "CHRS Les Tilleuls", "INSERTION")
    demand = await fresh_demand(siao, sql, "7500000016", "INSERTION")
    before = await snapshot(sql)
    denied = await as_user("sw.alpha@demo.siao")(
        M[DemandAction.ORIENT], i={"demandId": demand, "placeId": gid("Place", place["id"])}
    )
    assert denied.codes == ["FORBIDDEN"]
    proposed = await do(
        siao, DemandAction.ORIENT, demandId=demand, placeId=gid("Place", place["id"])
    )
    after_proposal = await snapshot(sql)
    self_accept = await siao(
        M[DemandAction.ACCEPT], i={"orientationId": proposed["orientation"]["id"], "accept": True}
    )
    assert self_accept.codes == ["FORBIDDEN"]
    assert await snapshot(sql) == after_proposal
    assert before != after_proposal
    assert manager is not None


def test_published_lifecycle_is_current() -> None:
    assert DOC_PATH.read_text() == document(), (
        "docs/demand-lifecycle.md is stale: run `siao lifecycle --write` and commit it"
    )
