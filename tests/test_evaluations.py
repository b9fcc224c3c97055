"""Evaluations: flash and deep, recorded through `recordEvaluation`, kept as a history,
the latest of each kind, the rights of each kind, and a flat statement count."""

from __future__ import annotations

import base64
import inspect
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run, http_client, one_row
from tests.test_mutations import gid, snapshot
from tests.test_rights import forbidden_at, orient_to_chrs, partner_token

Viewer = Callable[[str | None], Run]
OPERATOR = "siao.75@demo.siao"
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40
MANAGER = "manager.chrs@demo.siao"
BENEFICIARY = "beneficiary@demo.siao"  # a member of 7500000001
CLOSED = "7500000120"

RECORD = """
mutation ($input: RecordEvaluationInput!) {
  recordEvaluation(input: $input) {
    userErrors { code message field }
    evaluation {
      id kind vulnerabilityLevel criteria sections createdAt
      author { displayName } household { reference }
    }
  }
}"""
HISTORY = """
query ($ref: String!, $kind: EvaluationKind, $first: Int!, $after: String) {
  household(reference: $ref) {
    latestFlash: latestEvaluation(kind: FLASH) { id vulnerabilityLevel criteria }
    latestDeep: latestEvaluation(kind: DEEP) { id sections }
    evaluations(kind: $kind, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id kind createdAt } }
    }
  }
}"""


async def household_gid(sql: asyncpg.Connection, reference: str) -> str:
    row = await one_row(sql, "SELECT id FROM households WHERE reference = $1", reference)
    return gid("Household", row["id"])


def raw_id(global_id: str) -> uuid.UUID:
    return uuid.UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


def flash(household: str, level: Any = 3, **extra: Any) -> dict[str, Any]:
    return {"householdId": household, "kind": "FLASH", "vulnerabilityLevel": level, **extra}


def deep(household: str, sections: Any, **extra: Any) -> dict[str, Any]:
    return {"householdId": household, "kind": "DEEP", "sections": sections, **extra}


async def test_a_flash_evaluation_is_recorded_audited_and_becomes_the_latest(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    operator = as_user(OPERATOR)
    before = await operator(HISTORY, ref=FIRST_75_REFERENCE, first=100)
    assert before.data is not None
    earlier = before.data["household"]["latestFlash"]
    assert earlier is not None, "the demo household has a flash evaluation"

    answer = await operator(
        RECORD,
        input=flash(
            household, 4, criteria=["STREET_TONIGHT", "CHILDREN_UNDER_3", "STREET_TONIGHT"]
        ),
    )
    assert answer.errors == []
    assert answer.data is not None
    result = answer.data["recordEvaluation"]
    assert result["userErrors"] == []
    evaluation = result["evaluation"]
    assert evaluation["kind"] == "FLASH"
    assert evaluation["vulnerabilityLevel"] == 4
    assert evaluation["criteria"] == ["CHILDREN_UNDER_3", "STREET_TONIGHT"]
    assert evaluation["sections"] is None
    assert evaluation["author"] == {"displayName": "Sophie Lefèvre"}
    assert evaluation["household"] == {"reference": FIRST_75_REFERENCE}

    after = await operator(HISTORY, ref=FIRST_75_REFERENCE, first=100)
    assert after.data is not None
    record = after.data["household"]
    assert record["latestFlash"]["id"] == evaluation["id"]
    history = [e["node"]["id"] for e in record["evaluations"]["edges"]]
    assert history[0] == evaluation["id"]
    assert earlier["id"] in history, "earlier evaluations stay in the history"
    assert (
        record["evaluations"]["totalCount"]
        == before.data["household"]["evaluations"]["totalCount"] + 1
    )

    row = await one_row(
        sql,
        "SELECT e.created_at, a.at, a.action, a.changes, h.last_activity_at "
        "FROM evaluations e JOIN audit_events a ON a.entity_id = e.id "
        "JOIN households h ON h.id = e.household_id WHERE e.id = $1",
        raw_id(evaluation["id"]),
    )
    assert row["action"] == "CREATE"
    assert row["at"] == row["created_at"] == row["last_activity_at"]
    assert json.loads(row["changes"])["vulnerabilityLevel"] == {"before": None, "after": 4}


async def test_a_deep_evaluation_keeps_its_sections_in_the_order_of_the_form(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    alpha = as_user(ALPHA)
    sections = {
        "recommendation": "  Orientation vers un CHRS d'insertion.  ",
        "housingPath": "Hébergée chez sa sœur depuis mars.\nExpulsée en janvier.",
        "health": None,
        "resources": "   ",
    }
    answer = await alpha(RECORD, input=deep(household, sections))
    assert answer.errors == []
    assert answer.data is not None
    result = answer.data["recordEvaluation"]
    assert result["userErrors"] == []
    stored = result["evaluation"]["sections"]
    assert list(stored) == ["housingPath", "recommendation"]
    assert stored["recommendation"] == "Orientation vers un CHRS d'insertion."
    assert stored["housingPath"].endswith("\nExpulsée en janvier.")
    assert result["evaluation"]["vulnerabilityLevel"] is None

    latest = await alpha(HISTORY, ref=FIRST_75_REFERENCE, kind="DEEP", first=5)
    assert latest.data is not None
    assert latest.data["household"]["latestDeep"]["id"] == result["evaluation"]["id"]
    kinds = {e["node"]["kind"] for e in latest.data["household"]["evaluations"]["edges"]}
    assert kinds == {"DEEP"}


BAD_EVALUATIONS: dict[str, tuple[Callable[[str], dict[str, Any]], str, list[str]]] = {
    "flash level 0": (lambda h: flash(h, 0), "INVALID_LEVEL", ["vulnerabilityLevel"]),
    "flash level 5": (lambda h: flash(h, 5), "INVALID_LEVEL", ["vulnerabilityLevel"]),
    "flash without level": (lambda h: flash(h, None), "INVALID_LEVEL", ["vulnerabilityLevel"]),
    "flash with sections": (
        lambda h: flash(h, 2, sections={"health": "x"}),
        "INVALID_INPUT",
        ["sections"],
    ),
    "deep with a level": (
        lambda h: deep(h, {"health": "x"}, vulnerabilityLevel=2),
        "INVALID_INPUT",
        ["vulnerabilityLevel"],
    ),
    "deep with criteria": (
        lambda h: deep(h, {"health": "x"}, criteria=["PREGNANCY"]),
        "INVALID_INPUT",
        ["criteria"],
    ),
    "deep without sections": (lambda h: deep(h, None), "INVALID_SECTIONS", ["sections"]),
    "sections as a list": (lambda h: deep(h, ["health"]), "INVALID_SECTIONS", ["sections"]),
    "sections as a string": (
        lambda h: deep(h, '{"health": "x"}'),
        "INVALID_SECTIONS",
        ["sections"],
    ),
    "unknown section": (
        lambda h: deep(h, {"health": "x", "favouriteColour": "bleu"}),
        "INVALID_SECTIONS",
        ["sections", "favouriteColour"],
    ),
    "a section that is not a text": (
        lambda h: deep(h, {"resources": {"rsa": 600}}),
        "INVALID_SECTIONS",
        ["sections", "resources"],
    ),
    "every section empty": (
        lambda h: deep(h, {"health": " ", "resources": None}),
        "INVALID_SECTIONS",
        ["sections"],
    ),
    "control characters": (
        lambda h: deep(h, {"health": "ok\x01\x07"}),
        "INVALID_SECTIONS",
        ["sections", "health"],
    ),
    "a section over 10,000 characters": (
        lambda h: deep(h, {"housingPath": "é" * 10_001}),
        "INVALID_SECTIONS",
        ["sections", "housingPath"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_EVALUATIONS))
async def test_bad_evaluations_are_refused_and_nothing_is_written(
    as_user: Viewer, sql: asyncpg.Connection, case: str
) -> None:
    make, code, field = BAD_EVALUATIONS[case]
    household = await household_gid(sql, FIRST_75_REFERENCE)
    before = await snapshot(sql)
    answer = await as_user(ALPHA)(RECORD, input=make(household))
    assert answer.errors == []
    assert answer.data is not None
    result = answer.data["recordEvaluation"]
    assert result["evaluation"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in result["userErrors"]]
    assert await snapshot(sql) == before


WRITERS = {
    # viewer -> may record (FLASH, DEEP)
    ALPHA: (True, True),
    OPERATOR: (True, False),
    "beneficiary@demo.siao": (False, False),
    "manager.chrs@demo.siao": (False, False),
    "observer@demo.siao": (False, False),
    "admin@demo.siao": (False, False),
}


@pytest.mark.parametrize("login", list(WRITERS))
async def test_each_kind_is_written_by_whom_the_matrix_allows(
    as_user: Viewer, sql: asyncpg.Connection, login: str
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    run = as_user(login)
    for allowed, payload in zip(
        WRITERS[login], (flash(household, 2), deep(household, {"health": "RAS"})), strict=True
    ):
        before = await snapshot(sql)
        answer = await run(RECORD, input=payload)
        if allowed:
            assert answer.errors == [], (login, payload["kind"])
            assert answer.data is not None
            assert answer.data["recordEvaluation"]["userErrors"] == []
        else:
            assert answer.codes == ["FORBIDDEN"], (login, payload["kind"])
            assert answer.data is None or answer.data["recordEvaluation"] is None
            assert await snapshot(sql) == before


async def test_a_partner_records_no_evaluation(
    app: Starlette, settings: Settings, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    token = partner_token(settings, frozenset(PartnerScope))
    before = await snapshot(sql)
    async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
        for payload in (flash(household), deep(household, {"health": "RAS"})):
            response = await client.post(
                "/graphql", json={"query": RECORD, "variables": {"input": payload}}
            )
            errors = response.json()["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    assert await snapshot(sql) == before


async def test_out_of_scope_and_closed_households_are_refused(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    beta = as_user("sw.beta@demo.siao")  # does not accompany 7500000001
    answer = await beta(RECORD, input=flash(await household_gid(sql, FIRST_75_REFERENCE)))
    assert answer.data is not None
    assert [e["code"] for e in answer.data["recordEvaluation"]["userErrors"]] == ["NOT_FOUND"]
    operator = as_user(OPERATOR)
    answer = await operator(RECORD, input=flash(await household_gid(sql, CLOSED)))
    assert answer.data is not None
    errors = answer.data["recordEvaluation"]["userErrors"]
    assert [e["code"] for e in errors] == ["HOUSEHOLD_CLOSED"]
    assert await snapshot(sql) == before


async def test_the_history_pages_newest_first_and_filters_by_kind(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    alpha = as_user(ALPHA)
    for level in (1, 2, 3):
        answer = await alpha(RECORD, input=flash(household, level))
        assert answer.data is not None
        assert answer.data["recordEvaluation"]["userErrors"] == []
    expected = [
        r["kind"]
        for r in await sql.fetch(
            "SELECT kind FROM evaluations WHERE household_id = "
            "(SELECT id FROM households WHERE reference = $1) ORDER BY created_at DESC, id DESC",
            FIRST_75_REFERENCE,
        )
    ]
    for kind in (None, "FLASH"):
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            answer = await alpha(HISTORY, ref=FIRST_75_REFERENCE, kind=kind, first=2, after=after)
            assert answer.errors == []
            assert answer.data is not None
            page = answer.data["household"]["evaluations"]
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        wanted = [k for k in expected if kind is None or k == kind]
        assert [e["kind"] for e in seen] == wanted
        assert page["totalCount"] == len(wanted) == len({e["id"] for e in seen})
        assert [e["createdAt"] for e in seen] == sorted(
            (e["createdAt"] for e in seen), reverse=True
        )


async def test_a_recorded_evaluation_cannot_be_changed_in_the_database(
    sql: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await sql.execute("UPDATE evaluations SET vulnerability_level = 1")


EVALUATION_LIST = """
query ($first: Int!, $kind: EvaluationKind!) {
  households(first: $first) {
    edges { node {
      reference
      latestEvaluation(kind: FLASH) { vulnerabilityLevel criteria author { displayName } }
      deep: latestEvaluation(kind: $kind) { sections }
      evaluations(first: 3, kind: $kind) {
        totalCount edges { node { kind createdAt author { organisation { name } } } }
      }
      all: evaluations(first: 2) { totalCount edges { node { kind } } }
    } }
  }
}"""


async def test_evaluations_of_a_list_cost_the_same_for_5_and_50_households(
    as_user: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One statement per relation whatever the number of households, and every nested
    field found already loaded (literal and variable arguments give the same keys)."""
    import resolvers.loaders

    waits: list[object] = []

    def counting(value: object) -> bool:
        awaitable = inspect.isawaitable(value)
        if awaitable:
            waits.append(value)
        return awaitable

    monkeypatch.setattr(resolvers.loaders, "isawaitable", counting)
    alpha = as_user(ALPHA)
    small = await alpha(EVALUATION_LIST, first=5, kind="DEEP")
    large = await alpha(EVALUATION_LIST, first=40, kind="DEEP")
    assert small.errors == large.errors == []
    assert large.data is not None
    edges = large.data["households"]["edges"]
    assert len(edges) == 40
    assert any(e["node"]["deep"] for e in edges)
    assert small.extensions["sql"]["statements"] == large.extensions["sql"]["statements"]
    assert waits == []


# --- content carries its own category --------------------------------------------------

CRITERIA = """
query ($id: ID!) { node(id: $id) { ... on Evaluation {
  kind criteria healthCriteria violenceCriteria
} } }"""
RECORD_FLASH = """
mutation ($input: RecordEvaluationInput!) {
  recordEvaluation(input: $input) {
    userErrors { code }
    evaluation { id criteria healthCriteria violenceCriteria }
  }
}"""
SECTIONS = """
query ($id: ID!) { node(id: $id) { ... on Evaluation {
  sections housingPath familySituation resources health socialSupport recommendation
} } }"""

FORBIDDEN = "FORBIDDEN"
# viewer -> what it reads of a flash evaluation checking every kind of criterion:
# criteria, healthCriteria, violenceCriteria (FORBIDDEN: null and a FORBIDDEN error)
FLASH_SEEN: dict[str, tuple[Any, Any, Any]] = {
    ALPHA: (["STREET_TONIGHT"], ["PREGNANCY", "DISABILITY"], ["VIOLENCE"]),
    BENEFICIARY: (["STREET_TONIGHT"], ["PREGNANCY", "DISABILITY"], ["VIOLENCE"]),
    OPERATOR: (["STREET_TONIGHT"], FORBIDDEN, ["VIOLENCE"]),
    MANAGER: (["STREET_TONIGHT"], FORBIDDEN, FORBIDDEN),
}


async def let_the_chrs_see(as_user: Viewer, sql: asyncpg.Connection) -> None:
    """Orients a demand of 7500000001 to the CHRS, whose manager then sees the household."""
    demand = await one_row(
        sql,
        "SELECT d.id FROM demands d JOIN households h ON h.id = d.household_id "
        "WHERE h.reference = $1 LIMIT 1",
        FIRST_75_REFERENCE,
    )
    await orient_to_chrs(as_user(OPERATOR), sql, gid("Demand", demand["id"]))


def seen(answer: Any, path: list[str | int], value: Any) -> Any:
    """The value at the end of `path`, or FORBIDDEN when it is null with that error."""
    if forbidden_at(answer, path):
        assert value is None, path
        return FORBIDDEN
    return value


async def test_health_and_violence_criteria_are_read_only_by_readers_of_their_category(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """The 115 operator records what they hear (a pregnancy included), reads back only the
    criteria the SIAO may read, and so does every viewer: a structure, which may read flash
    evaluations but neither HEALTH nor VIOLENCE, learns neither."""
    await let_the_chrs_see(as_user, sql)
    household = await household_gid(sql, FIRST_75_REFERENCE)
    criteria = ["VIOLENCE", "DISABILITY", "PREGNANCY", "STREET_TONIGHT"]
    answer = await as_user(OPERATOR)(RECORD_FLASH, input=flash(household, 4, criteria=criteria))
    assert answer.data is not None
    result = answer.data["recordEvaluation"]
    assert result["userErrors"] == []
    evaluation = result["evaluation"]
    assert evaluation["criteria"] == ["STREET_TONIGHT"]
    assert evaluation["violenceCriteria"] == ["VIOLENCE"]
    assert evaluation["healthCriteria"] is None
    assert answer.codes == [FORBIDDEN]
    assert forbidden_at(answer, ["recordEvaluation", "evaluation", "healthCriteria"])
    stored = await sql.fetchval(
        "SELECT criteria FROM evaluations WHERE id = $1", raw_id(evaluation["id"])
    )
    assert stored == ["PREGNANCY", "DISABILITY", "VIOLENCE", "STREET_TONIGHT"], "all recorded"

    for login, expected in FLASH_SEEN.items():
        answer = await as_user(login)(CRITERIA, id=evaluation["id"])
        assert answer.data is not None, login
        node = answer.data["node"]
        assert node is not None, login
        got = tuple(
            seen(answer, ["node", field], node[field])
            for field in ("criteria", "healthCriteria", "violenceCriteria")
        )
        assert got == expected, login
        assert len(answer.errors) == list(expected).count(FORBIDDEN), login
        if FORBIDDEN in expected:
            assert "PREGNANCY" not in str(answer.data), login


async def test_the_health_section_of_a_deep_evaluation_is_read_only_by_readers_of_health(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    await let_the_chrs_see(as_user, sql)
    household = await household_gid(sql, FIRST_75_REFERENCE)
    texts = {
        "housingPath": "Hébergée chez sa sœur depuis mars.",
        "resources": "RSA, 607 euros.",
        "health": "Enceinte de cinq mois, suivie par la PMI.",
        "recommendation": "Orientation vers un CHRS.",
    }
    recorded = await as_user(ALPHA)(RECORD, input=deep(household, texts))
    assert recorded.data is not None
    evaluation_id = recorded.data["recordEvaluation"]["evaluation"]["id"]
    typed = [
        "housingPath",
        "familySituation",
        "resources",
        "health",
        "socialSupport",
        "recommendation",
    ]
    for login in (ALPHA, BENEFICIARY, OPERATOR, MANAGER):
        answer = await as_user(login)(SECTIONS, id=evaluation_id)
        assert answer.data is not None, login
        node = answer.data["node"]
        reads_health = login in (ALPHA, BENEFICIARY)
        readable = {k: v for k, v in texts.items() if reads_health or k != "health"}
        assert node["sections"] == readable, login
        for field in typed:
            assert node[field] == readable.get(field), (login, field)
        assert forbidden_at(answer, ["node", "health"]) is not reads_health, login
        assert answer.codes == ([] if reads_health else [FORBIDDEN]), login
        if not reads_health:
            assert "PMI" not in str(answer.data), login


async def test_reading_the_sections_is_an_access_to_each_logged_category_of_a_section(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    recorded = await as_user(ALPHA)(RECORD, input=deep(household, {"recommendation": "CHRS."}))
    assert recorded.data is not None
    evaluation_id = recorded.data["recordEvaluation"]["evaluation"]["id"]
    logged = (
        "SELECT array_agg(DISTINCT a.category ORDER BY a.category) FROM access_events a "
        "JOIN users u ON u.id = a.viewer_id WHERE u.login = $1 AND NOT a.id = ANY($2::uuid[])"
    )
    earlier = await sql.fetchval("SELECT coalesce(array_agg(id), '{}') FROM access_events")
    for login in (ALPHA, OPERATOR):
        answer = await as_user(login)(
            "query ($id: ID!) { node(id: $id) { ... on Evaluation { sections } } }",
            id=evaluation_id,
        )
        assert answer.errors == [], login
    # whatever the evaluation holds (no health section here): its sections were read
    assert await sql.fetchval(logged, ALPHA, earlier) == ["BUDGET", "EVALUATION", "HEALTH"]
    assert await sql.fetchval(logged, OPERATOR, earlier) == ["BUDGET", "EVALUATION"]
