"""Accompaniments as dated facts (issue #13, item 1): the SIAO assigns, transfers and ends
them; the row scope follows at once, and after the end the household reads, for the
organisation that followed it, as if it did not exist."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from tests.conftest import Answer, Run, http_client, one_row
from tests.test_mutations import CREATE_DEMAND, CREATE_HOUSEHOLD, gid, member, snapshot
from tests.test_rights import partner_token
from tests.test_sessions import delivered, live, receive, server, subscribe

__all__ = ["server"]  # the fixture, for pytest

Viewer = Callable[[str | None], Run]
OPERATOR = "siao.75@demo.siao"  # the SIAO of 75, and its 115 at night
ALPHA = "sw.alpha@demo.siao"
BETA = "sw.beta@demo.siao"
ALPHA_HOUSEHOLD = "7500000022"  # followed by Alpha from the demo on

START = """
mutation ($input: StartAccompanimentInput!) {
  startAccompaniment(input: $input) {
    userErrors { code message field }
    accompaniment { id role isCurrent organisation { name } referent { displayName } }
    household { reference }
  }
}"""
END = """
mutation ($input: EndAccompanimentInput!) {
  endAccompaniment(input: $input) {
    userErrors { code message field }
    accompaniment { id isCurrent endReason }
    household { reference members { person { id firstName } } }
  }
}"""
TRANSFER = """
mutation ($input: TransferAccompanimentInput!) {
  transferAccompaniment(input: $input) {
    userErrors { code message field }
    ended { id isCurrent endReason endComment organisation { name } }
    started { id isCurrent role organisation { name } referent { displayName } }
    household { reference }
  }
}"""
CREATE_NOTE = """
mutation ($input: CreateNoteInput!) {
  createNote(input: $input) { userErrors { code } note { id } }
}"""
FLASH = """
mutation ($input: RecordEvaluationInput!) {
  recordEvaluation(input: $input) { userErrors { code } evaluation { id } }
}"""
RECORD = """
query ($ref: String!) {
  household(reference: $ref) {
    id reference
    members { id person { id firstName } }
    demands { edges { node { id } } }
    notes { edges { node { id title } } }
    evaluations { edges { node { id } } }
    auditEvents(first: 100) { edges { node {
      id action entityType entityId changes actor { displayName }
    } } }
    accompaniments { id role isCurrent since until organisation { name } referent { displayName }
      startedBy { displayName } endedBy { displayName } endReason }
  }
}"""
NODES = "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"
LIST = """
query ($after: String) {
  households(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { reference } }
  }
}"""
ACCOMPANIED = """
query ($org: ID!) {
  node(id: $org) { ... on Organisation {
    accompaniedHouseholds(first: 100) { totalCount edges { node { reference } } }
  } }
}"""
SEARCH = """
query ($q: String!) {
  searchPersons(query: $q, first: 100) { edges { node {
    firstName lastName birthDate householdReference accompanyingOrganisations
  } } }
}"""


async def full_snapshot(sql: asyncpg.Connection) -> dict[str, Any]:
    """What a refused write must not change, accompaniments included."""
    accompaniments = await sql.fetchval(
        "SELECT md5(string_agg(concat_ws('|', id, household_id, user_id, organisation_id, "
        "validity, role, started_by, ended_by, end_reason, end_comment), ',' ORDER BY id)) "
        "FROM accompaniments"
    )
    activity = await sql.fetchval(
        "SELECT md5(string_agg(id::text || last_activity_at, ',' ORDER BY id)) FROM households"
    )
    return {**await snapshot(sql), "accompaniments": accompaniments, "activity": activity}


async def organisation(sql: asyncpg.Connection, login: str) -> uuid.UUID:
    row = await one_row(sql, "SELECT organisation_id FROM users WHERE login = $1", login)
    value: uuid.UUID = row["organisation_id"]
    return value


async def user_id(sql: asyncpg.Connection, login: str) -> uuid.UUID:
    value: uuid.UUID = (await one_row(sql, "SELECT id FROM users WHERE login = $1", login))["id"]
    return value


def ok(answer: Answer, name: str) -> dict[str, Any]:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    payload: dict[str, Any] = answer.data[name]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def refused(answer: Answer, name: str) -> list[str]:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    payload = answer.data[name]
    assert all(v is None for k, v in payload.items() if k != "userErrors"), payload
    return [e["code"] for e in payload["userErrors"]]


async def night_household(as_user: Viewer) -> dict[str, Any]:
    """The 115 at night: the SIAO's operator creates a household; nobody follows it."""
    answer = await as_user(OPERATOR)(
        CREATE_HOUSEHOLD,
        input={
            "territory": "75",
            "members": [
                member("Zélie", "Quennevault", sex="FEMALE", birthDate="1991-05-04"),
                member("Noé", "Quennevault", "CHILD", birthDate="2019-10-01"),
            ],
        },
    )
    created: dict[str, Any] = ok(answer, "createHousehold")["household"]
    return created


async def start_input(
    sql: asyncpg.Connection,
    household: str,
    login: str = ALPHA,
    *,
    role: str = "PATH_REFERENT",
    referent: bool = True,
) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "householdId": household,
        "organisationId": gid("Organisation", await organisation(sql, login)),
        "role": role,
    }
    if referent:
        variables["referentUserId"] = gid("User", await user_id(sql, login))
    return variables


async def start(
    as_user: Viewer,
    sql: asyncpg.Connection,
    household: str,
    login: str = ALPHA,
    *,
    role: str = "PATH_REFERENT",
    by: str = OPERATOR,
) -> Answer:
    variables = await start_input(sql, household, login, role=role)
    return await as_user(by)(START, input=variables)


async def read_everything(run: Run, reference: str, ids: list[str]) -> dict[str, Any]:
    """What a viewer reads of a household: by reference, by id, the objects of kept ids,
    and whether the lists name it."""
    record = await run(RECORD, ref=reference)
    nodes = await run(NODES, ids=ids)
    listed: list[str] = []
    after = None
    while True:
        page = await run(LIST, after=after)
        assert page.data is not None, page.errors
        listed += [e["node"]["reference"] for e in page.data["households"]["edges"]]
        if not page.data["households"]["pageInfo"]["hasNextPage"]:
            break
        after = page.data["households"]["pageInfo"]["endCursor"]
    assert record.data is not None
    assert nodes.data is not None
    return {
        "record": record.data["household"],
        "record_errors": record.errors,
        "nodes": nodes.data["nodes"],
        "nodes_errors": nodes.errors,
        "listed": reference in listed,
    }


# --- the Done-when story -------------------------------------------------------------------


async def test_a_household_the_115_created_is_assigned_read_at_once_then_ended_as_if_never(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao, alpha = as_user(OPERATOR), as_user(ALPHA)
    created = await night_household(as_user)
    household, reference = created["id"], created["reference"]
    # At night nobody follows it: Alpha's social worker does not see it.
    assert (await alpha(RECORD, ref=reference)).data == {"household": None}
    assert (await alpha(NODES, ids=[household])).data == {"nodes": [None]}

    # The SIAO writes a demand and a flash evaluation, then assigns Alpha in the morning.
    demand = ok(
        await siao(CREATE_DEMAND, input={"householdId": household, "kind": "EMERGENCY"}),
        "createDemand",
    )["demand"]["id"]
    evaluation = ok(
        await siao(
            FLASH,
            input={
                "householdId": household,
                "kind": "FLASH",
                "vulnerabilityLevel": 3,
                "criteria": ["CHILDREN_UNDER_3"],
            },
        ),
        "recordEvaluation",
    )["evaluation"]["id"]
    started = ok(await start(as_user, sql, household), "startAccompaniment")
    assert started["household"] == {"reference": reference}
    assert started["accompaniment"]["role"] == "PATH_REFERENT"
    assert started["accompaniment"]["isCurrent"] is True
    assert started["accompaniment"]["organisation"] == {"name": "Association Alpha Solidarité"}
    assert started["accompaniment"]["referent"] == {"displayName": "Camille Rousseau"}
    accompaniment = started["accompaniment"]["id"]

    # Alpha's social worker reads it at once: by reference, by id, in the lists.
    note = ok(
        await alpha(
            CREATE_NOTE, input={"householdId": household, "title": "Premier appel", "body": "RDV"}
        ),
        "createNote",
    )["note"]["id"]
    record = await alpha(RECORD, ref=reference)
    assert record.errors == []
    assert record.data is not None
    seen = record.data["household"]
    assert seen["id"] == household
    assert [a["id"] for a in seen["accompaniments"]] == [accompaniment]
    assert seen["accompaniments"][0]["startedBy"] == {"displayName": "Sophie Lefèvre"}
    persons = [m["person"]["id"] for m in seen["members"]]
    memberships = [m["id"] for m in seen["members"]]
    events = [e["node"]["id"] for e in seen["auditEvents"]["edges"]]
    assert {e["node"]["action"] for e in seen["auditEvents"]["edges"]} >= {"ACCOMPANY", "CREATE"}
    attachment = uuid.uuid4()
    await sql.execute(
        "INSERT INTO attachments (id, household_id, person_id, section, file_name, "
        "content_type, size, sha256, storage_key) VALUES ($1, $2::uuid, NULL, 'HOUSING_STEPS', "
        "'avis.pdf', 'application/pdf', 2048, repeat('ab', 32), $3)",
        attachment,
        raw_id(household),
        f"test/{attachment}",
    )
    kept = [
        household,
        *persons,
        *memberships,
        demand,
        evaluation,
        note,
        gid("Attachment", attachment),
        accompaniment,
        *events,
    ]
    before = await read_everything(alpha, reference, kept)
    assert before["listed"]
    assert None not in before["nodes"]
    alpha_org = gid("Organisation", await organisation(sql, ALPHA))
    listed = await alpha(ACCOMPANIED, org=alpha_org)
    assert listed.data is not None
    assert reference in [
        e["node"]["reference"] for e in listed.data["node"]["accompaniedHouseholds"]["edges"]
    ]

    # She ends it herself: within the same request, the payload no longer shows it.
    ended = await alpha(
        END,
        input={"accompanimentId": accompaniment, "reason": "FOLLOW_UP_COMPLETED", "comment": "Fin"},
    )
    assert ended.errors == []
    assert ended.data == {
        "endAccompaniment": {"userErrors": [], "accompaniment": None, "household": None}
    }

    # Afterwards: exactly as a household that does not exist (ids kept, lists, change log).
    after = await read_everything(alpha, reference, kept)
    assert after == {
        "record": None,
        "record_errors": [],
        "nodes": [None] * len(kept),
        "nodes_errors": [],
        "listed": False,
    }
    randoms = [gid(raw_type(k), uuid.uuid4()) for k in kept]
    assert (await alpha(NODES, ids=randoms)).data == {"nodes": [None] * len(kept)}
    listed = await alpha(ACCOMPANIED, org=alpha_org)
    assert listed.data is not None
    assert reference not in [
        e["node"]["reference"] for e in listed.data["node"]["accompaniedHouseholds"]["edges"]
    ]
    # The search shows her what it shows of any household of the territory, no more.
    found = await alpha(SEARCH, q="Quennevault Zélie")
    assert found.data is not None, found.errors
    hits = [
        e["node"]
        for e in found.data["searchPersons"]["edges"]
        if e["node"]["householdReference"] == reference
    ]
    assert hits == [
        {
            "firstName": "Zélie",
            "lastName": "Quennevault",
            "birthDate": "1991-05-04",
            "householdReference": reference,
            "accompanyingOrganisations": [],
        }
    ]
    # Nor can she act on it: it is not found.
    again = await alpha(
        CREATE_NOTE, input={"householdId": household, "title": "Encore", "body": "Encore"}
    )
    assert again.data == {"createNote": {"userErrors": [{"code": "NOT_FOUND"}], "note": None}}

    # The SIAO still reads it, and its change log keeps who followed it, when, and why.
    log = await siao(RECORD, ref=reference)
    assert log.data is not None
    history = log.data["household"]
    [past] = history["accompaniments"]
    assert past["isCurrent"] is False
    assert past["until"] is not None
    assert past["endReason"] == "FOLLOW_UP_COMPLETED"
    assert past["endedBy"] == {"displayName": "Camille Rousseau"}
    steps = [
        (e["node"]["action"], e["node"]["actor"]["displayName"])
        for e in reversed(history["auditEvents"]["edges"])
        if e["node"]["entityType"] == "Accompaniment"
    ]
    assert steps == [("ACCOMPANY", "Sophie Lefèvre"), ("END_ACCOMPANIMENT", "Camille Rousseau")]
    end_event = next(
        e["node"]
        for e in history["auditEvents"]["edges"]
        if e["node"]["action"] == "END_ACCOMPANIMENT"
    )
    assert end_event["changes"]["endReason"]["after"] == "FOLLOW_UP_COMPLETED"
    assert end_event["changes"]["endComment"]["after"] == "Fin"
    assert end_event["entityId"] == accompaniment


def raw_type(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[0]


async def test_a_live_subscription_hears_nothing_more_of_a_household_once_ended(
    as_user: Viewer,
    sql: asyncpg.Connection,
    app: Starlette,
    server: str,
    token: Callable[[str], str],
) -> None:
    siao = as_user(OPERATOR)
    created = await night_household(as_user)
    household = created["id"]
    accompaniment = ok(await start(as_user, sql, household), "startAccompaniment")
    accompaniment_id = accompaniment["accompaniment"]["id"]
    alpha_household = await one_row(
        sql, "SELECT id FROM households WHERE reference = $1", ALPHA_HOUSEHOLD
    )

    async def demand_for(household_id: str) -> str:
        answer = await siao(CREATE_DEMAND, input={"householdId": household_id, "kind": "EMERGENCY"})
        return str(ok(answer, "createDemand")["demand"]["id"])

    async with live(server, token(ALPHA)) as ws:
        await subscribe(app, ws)
        first = await demand_for(household)
        event = await delivered(ws)
        assert event["data"]["demandChanged"]["id"] == first  # she hears of it while followed
        ok(
            await siao(
                END,
                input={"accompanimentId": accompaniment_id, "reason": "HOUSEHOLD_LEFT"},
            ),
            "endAccompaniment",
        )
        hidden = await demand_for(household)
        shown = await demand_for(gid("Household", alpha_household["id"]))
        # The next event she receives is the one of a household she still follows: the
        # one of the ended household was never sent.
        event = await delivered(ws)
        assert event["data"]["demandChanged"]["id"] == shown != hidden
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
    _ = receive  # (the helper module's reader, used by `delivered`)


# --- refusals write nothing ----------------------------------------------------------------


async def test_each_refusal_writes_nothing(as_user: Viewer, sql: asyncpg.Connection) -> None:
    created = await night_household(as_user)
    household = created["id"]
    alpha_household = gid(
        "Household",
        (await one_row(sql, "SELECT id FROM households WHERE reference = $1", ALPHA_HOUSEHOLD))[
            "id"
        ],
    )
    a93 = gid(
        "Household",
        (await one_row(sql, "SELECT id FROM households WHERE reference = '9300000001'"))["id"],
    )
    gamma = gid(
        "Organisation",
        (await one_row(sql, "SELECT id FROM organisations WHERE name LIKE '%Gamma%'"))["id"],
    )
    alpha_org = gid("Organisation", await organisation(sql, ALPHA))
    beta_org = gid("Organisation", await organisation(sql, BETA))
    beta_user = gid("User", await user_id(sql, BETA))
    # An accompaniment by Bêta of an Alpha household, and one ended already.
    beta_on_alpha = ok(
        await start(as_user, sql, alpha_household, BETA, role="PARTNER_SERVICE"),
        "startAccompaniment",
    )["accompaniment"]["id"]
    to_end = ok(await start(as_user, sql, household), "startAccompaniment")["accompaniment"]["id"]
    ok(
        await as_user(OPERATOR)(
            END, input={"accompanimentId": to_end, "reason": "ENTERED_IN_ERROR"}
        ),
        "endAccompaniment",
    )
    alpha_current = (
        await one_row(
            sql,
            "SELECT a.id FROM accompaniments a JOIN households h ON h.id = a.household_id "
            "WHERE h.reference = $1 AND a.organisation_id = $2 AND a.validity @> now()",
            ALPHA_HOUSEHOLD,
            await organisation(sql, ALPHA),
        )
    )["id"]
    alpha_acc = gid("Accompaniment", alpha_current)

    def start_input(**extra: Any) -> dict[str, Any]:
        return {
            "householdId": household,
            "organisationId": alpha_org,
            "role": "PATH_REFERENT",
        } | extra

    cases: list[tuple[str, str, str, dict[str, Any], str]] = [
        # A social worker does not assign herself, whether she sees the household or not.
        (ALPHA, START, "startAccompaniment", start_input(), "ACCESS_REQUEST_REQUIRED"),
        (
            ALPHA,
            START,
            "startAccompaniment",
            start_input(householdId=alpha_household),
            "ACCESS_REQUEST_REQUIRED",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(organisationId=gamma),
            "OTHER_TERRITORY",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(referentUserId=beta_user),
            "REFERENT_NOT_IN_ORGANISATION",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(householdId=alpha_household),
            "ALREADY_ACCOMPANIED",
        ),
        (OPERATOR, START, "startAccompaniment", start_input(householdId=a93), "NOT_FOUND"),
        (
            "siao.93@demo.siao",
            START,
            "startAccompaniment",
            start_input(organisationId=gamma),
            "NOT_FOUND",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(organisationId=gid("Organisation", uuid.uuid4())),
            "OTHER_TERRITORY",
        ),
        (
            OPERATOR,
            END,
            "endAccompaniment",
            {"accompanimentId": to_end, "reason": "OTHER"},
            "ALREADY_ENDED",
        ),
        (
            ALPHA,
            END,
            "endAccompaniment",
            {"accompanimentId": beta_on_alpha, "reason": "OTHER"},
            "NOT_YOUR_ORGANISATION",
        ),
        (
            BETA,
            END,
            "endAccompaniment",
            {"accompanimentId": to_end, "reason": "OTHER"},
            "NOT_FOUND",
        ),
        (
            OPERATOR,
            END,
            "endAccompaniment",
            {"accompanimentId": alpha_acc, "reason": "TRANSFERRED"},
            "INVALID_INPUT",
        ),
        (
            OPERATOR,
            END,
            "endAccompaniment",
            {"accompanimentId": alpha_acc, "reason": "OTHER", "comment": "x" * 2001},
            "INVALID_COMMENT",
        ),
        (
            ALPHA,
            TRANSFER,
            "transferAccompaniment",
            {"accompanimentId": alpha_acc, "toOrganisationId": beta_org},
            "TRANSFER_BY_SIAO_ONLY",
        ),
        (
            OPERATOR,
            TRANSFER,
            "transferAccompaniment",
            {"accompanimentId": alpha_acc, "toOrganisationId": gamma},
            "OTHER_TERRITORY",
        ),
        (
            OPERATOR,
            TRANSFER,
            "transferAccompaniment",
            {"accompanimentId": alpha_acc, "toOrganisationId": beta_org},
            "ALREADY_ACCOMPANIED",
        ),
        (
            OPERATOR,
            TRANSFER,
            "transferAccompaniment",
            {"accompanimentId": to_end, "toOrganisationId": beta_org},
            "ALREADY_ENDED",
        ),
        (
            OPERATOR,
            TRANSFER,
            "transferAccompaniment",
            {
                "accompanimentId": beta_on_alpha,
                "toOrganisationId": beta_org,
                "toReferentUserId": gid("User", await user_id(sql, ALPHA)),
            },
            "REFERENT_NOT_IN_ORGANISATION",
        ),
    ]
    # The SIAO assigns no structure as path referent, and names no structure manager.
    chrs = gid("Organisation", await organisation(sql, "manager.chrs@demo.siao"))
    manager = gid("User", await user_id(sql, "manager.chrs@demo.siao"))
    cases += [
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(organisationId=chrs),
            "ROLE_NOT_FOR_ORGANISATION",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(organisationId=chrs, role="HOSTING_STRUCTURE", referentUserId=manager),
            "REFERENT_NOT_IN_ORGANISATION",
        ),
        (
            OPERATOR,
            START,
            "startAccompaniment",
            start_input(role="HOSTING_STRUCTURE"),
            "ROLE_NOT_FOR_ORGANISATION",
        ),
    ]
    for login, document, name, variables, code in cases:
        before = await full_snapshot(sql)
        answer = await as_user(login)(document, input=variables)
        assert refused(answer, name) == [code], (login, name, variables, answer.data)
        assert await full_snapshot(sql) == before, (login, name, code)


async def test_two_concurrent_starts_of_the_same_organisation_leave_exactly_one(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    for _ in range(3):
        household = (await night_household(as_user))["id"]
        named = await start_input(sql, household)
        unnamed = await start_input(sql, household, referent=False)
        siao = as_user(OPERATOR)
        answers = await asyncio.gather(siao(START, input=named), siao(START, input=unnamed))
        codes = [
            [e["code"] for e in a.data["startAccompaniment"]["userErrors"]]
            for a in answers
            if a.data is not None
        ]
        assert sorted(codes) == [[], ["ALREADY_ACCOMPANIED"]], [a.errors for a in answers]
        count = await sql.fetchval(
            "SELECT count(*) FROM accompaniments WHERE household_id = $1::uuid",
            raw_id(household),
        )
        assert count == 1


async def test_the_database_refuses_overlapping_accompaniments_of_one_organisation(
    sql: asyncpg.Connection,
) -> None:
    row = await one_row(
        sql,
        "SELECT household_id, organisation_id FROM accompaniments WHERE validity @> now() "
        "AND organisation_id IS NOT NULL LIMIT 1",
    )
    with pytest.raises(asyncpg.ExclusionViolationError):
        await sql.execute(
            "INSERT INTO accompaniments (id, household_id, organisation_id, validity) "
            "VALUES (gen_random_uuid(), $1, $2, tstzrange(now() + interval '1 day', NULL))",
            row["household_id"],
            row["organisation_id"],
        )


def raw_id(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


# --- transfer -------------------------------------------------------------------------------


async def test_a_transfer_moves_access_from_alpha_to_beta_in_one_step(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    siao, alpha, beta = as_user(OPERATOR), as_user(ALPHA), as_user(BETA)
    created = await night_household(as_user)
    household, reference = created["id"], created["reference"]
    first = ok(await start(as_user, sql, household), "startAccompaniment")["accompaniment"]["id"]
    assert (await beta(RECORD, ref=reference)).data == {"household": None}
    moved = ok(
        await siao(
            TRANSFER,
            input={
                "accompanimentId": first,
                "toOrganisationId": gid("Organisation", await organisation(sql, BETA)),
                "toReferentUserId": gid("User", await user_id(sql, BETA)),
                "reason": "Déménagement dans le 19e",
            },
        ),
        "transferAccompaniment",
    )
    assert moved["ended"]["id"] == first
    assert moved["ended"]["isCurrent"] is False
    assert moved["ended"]["endReason"] == "TRANSFERRED"
    assert moved["ended"]["endComment"] == "Déménagement dans le 19e"
    assert moved["started"]["organisation"] == {"name": "Association Bêta Accueil"}
    assert moved["started"]["isCurrent"] is True
    assert moved["started"]["role"] == "PATH_REFERENT"
    # The same instant: one ends where the other starts.
    bounds = await sql.fetch(
        "SELECT lower(validity) AS since, upper(validity) AS until FROM accompaniments "
        "WHERE household_id = $1::uuid ORDER BY lower(validity)",
        raw_id(household),
    )
    assert bounds[0]["until"] == bounds[1]["since"]
    assert bounds[1]["until"] is None
    assert (await alpha(RECORD, ref=reference)).data == {"household": None}
    seen = await beta(RECORD, ref=reference)
    assert seen.data is not None
    assert seen.data["household"]["reference"] == reference
    # The change log shows the SIAO every step, in order.
    log = await siao(RECORD, ref=reference)
    assert log.data is not None
    steps = [
        (e["node"]["action"], e["node"]["changes"].get("endReason", {}).get("after"))
        for e in reversed(log.data["household"]["auditEvents"]["edges"])
        if e["node"]["entityType"] == "Accompaniment"
    ]
    # (the transfer's two events share its instant: their order between them is not given)
    assert steps[0] == ("ACCOMPANY", None)
    assert sorted(steps[1:], key=str) == [("ACCOMPANY", None), ("END_ACCOMPANIMENT", "TRANSFERRED")]


async def test_a_social_worker_names_another_referent_of_her_organisation_only(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    colleague = await sql.fetchval(
        "INSERT INTO users (id, login, display_name, role, organisation_id, territory_code) "
        "SELECT gen_random_uuid(), 'sw.alpha2@demo.siao', 'Léa Martin', 'SOCIAL_WORKER', "
        "organisation_id, territory_code FROM users WHERE login = $1 RETURNING id",
        ALPHA,
    )
    created = await night_household(as_user)
    first = ok(await start(as_user, sql, created["id"]), "startAccompaniment")["accompaniment"][
        "id"
    ]
    moved = ok(
        await alpha(
            TRANSFER,
            input={
                "accompanimentId": first,
                "toOrganisationId": gid("Organisation", await organisation(sql, ALPHA)),
                "toReferentUserId": gid("User", colleague),
            },
        ),
        "transferAccompaniment",
    )
    assert moved["started"]["referent"] == {"displayName": "Léa Martin"}
    # Her organisation still follows it: she still reads it.
    assert moved["household"] == {"reference": created["reference"]}


# --- other roles ---------------------------------------------------------------------------


async def test_other_roles_neither_run_the_mutations_nor_read_what_they_do_not_see(
    as_user: Viewer, app: Starlette, settings: Settings, sql: asyncpg.Connection
) -> None:
    created = await night_household(as_user)
    household = created["id"]
    accompaniment = ok(await start(as_user, sql, household), "startAccompaniment")["accompaniment"][
        "id"
    ]
    partner = partner_token(
        settings,
        frozenset({PartnerScope.IDENTITY_MIN_READ, PartnerScope.DEMANDS_READ}),
    )

    async def as_partner(document: str, **variables: Any) -> Answer:
        async with http_client(app, {"Authorization": f"Bearer {partner}"}) as client:
            body = (
                await client.post("/graphql", json={"query": document, "variables": variables})
            ).json()
        return Answer(body.get("data"), body.get("errors", []), body.get("extensions", {}))

    runs: list[tuple[str, Run]] = [
        (login, as_user(login))
        for login in (
            "manager.chrs@demo.siao",
            "beneficiary@demo.siao",
            "observer@demo.siao",
            "admin@demo.siao",
        )
    ]
    runs.append(("partner", as_partner))
    alpha_org = gid("Organisation", await organisation(sql, ALPHA))
    beta_org = gid("Organisation", await organisation(sql, BETA))
    before = await full_snapshot(sql)
    for who, run in runs:
        for document, variables in (
            (
                START,
                {"householdId": household, "organisationId": beta_org, "role": "PATH_REFERENT"},
            ),
            (TRANSFER, {"accompanimentId": accompaniment, "toOrganisationId": beta_org}),
            (END, {"accompanimentId": accompaniment, "reason": "OTHER"}),
        ):
            answer = await run(document, input=variables)
            assert "FORBIDDEN" in answer.codes, (who, answer)
        # Nothing of the accompaniment, by any path.
        node = await run(
            "query ($id: ID!, $h: ID!) { node(id: $id) { id } "
            "household: node(id: $h) { ... on Household { accompaniments { id } } } }",
            id=accompaniment,
            h=household,
        )
        assert node.data is not None, (who, node)
        assert node.data["node"] is None, who
        if who == "partner":  # it sees the household (not protected), not who follows it
            assert node.data["household"] == {"accompaniments": None}
            assert node.codes == ["FORBIDDEN"]
        else:
            assert node.data["household"] is None, who
            assert node.errors == []
        listed = await run(ACCOMPANIED, org=alpha_org)
        assert listed.data is not None, (who, listed.errors)
        # At most what they see anyway (the beneficiary: her own household, which Alpha
        # follows), never the household they do not see.
        connection = listed.data["node"]["accompaniedHouseholds"] or {"edges": []}
        shown = {e["node"]["reference"] for e in connection["edges"]}
        assert shown <= {"7500000001"}, (who, shown)
        assert created["reference"] not in shown
    assert await full_snapshot(sql) == before


async def test_the_household_reads_who_follows_it_and_structures_do_not(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    document = """
    query ($ref: String!) { household(reference: $ref) {
      accompaniments(current: true) {
        role organisation { name } referent { displayName } endComment
      }
    } }"""
    own = await as_user("beneficiary@demo.siao")(document, ref="7500000001")
    assert own.data is not None
    [current] = own.data["household"]["accompaniments"]
    assert current["organisation"] == {"name": "Association Alpha Solidarité"}
    # The comment of an end is professionals' talk (NOTES): not the household's.
    assert [e["extensions"]["code"] for e in own.errors] == ["FORBIDDEN"]
    # A structure the household is oriented to does not learn who follows it.
    answer = await as_user(OPERATOR)(
        '{ household(reference: "7500000001") { accompaniments { id } } }'
    )
    assert answer.data is not None
    manager = await as_user("manager.chrs@demo.siao")(
        "query ($id: ID!) { node(id: $id) { id } }",
        id=answer.data["household"]["accompaniments"][0]["id"],
    )
    assert manager.data == {"node": None}


async def test_a_partner_service_is_not_named_by_the_search(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    created = await night_household(as_user)
    ok(await start(as_user, sql, created["id"], BETA, role="PARTNER_SERVICE"), "startAccompaniment")
    ok(await start(as_user, sql, created["id"], ALPHA), "startAccompaniment")
    found = await as_user(BETA)(SEARCH, q="Quennevault Zélie")
    assert found.data is not None, found.errors
    [hit] = [
        e["node"]
        for e in found.data["searchPersons"]["edges"]
        if e["node"]["householdReference"] == created["reference"]
    ]
    assert hit["accompanyingOrganisations"] == ["Association Alpha Solidarité"]


# --- cost ----------------------------------------------------------------------------------

WORK = """
query ($first: Int!) {
  households(first: $first) { edges { node {
    reference
    accompaniments { id role since isCurrent organisation { name
      accompaniedHouseholds(first: 3) { totalCount edges { node { reference } } } }
      referent { displayName } startedBy { displayName } }
  } } }
}"""


async def test_statement_count_of_accompaniments_does_not_grow_with_households(
    as_user: Viewer,
) -> None:
    siao = as_user(OPERATOR)
    small, large = await siao(WORK, first=5), await siao(WORK, first=50)
    assert small.errors == large.errors == []
    assert small.data is not None
    assert large.data is not None
    assert len(large.data["households"]["edges"]) == 50
    assert any(e["node"]["accompaniments"] for e in large.data["households"]["edges"])
    assert small.extensions["sql"]["statements"] == large.extensions["sql"]["statements"]


MULTI = """
mutation ($household: ID!, $accompaniment: ID!) {
  first: createNote(input: {householdId: $household, title: "Avant", body: "b"}) {
    note { household { reference members { person { firstName } } } }
  }
  end: endAccompaniment(input: {accompanimentId: $accompaniment, reason: OTHER}) {
    userErrors { code }
    household { reference members { person { firstName } } }
  }
  after: createNote(input: {householdId: $household, title: "Après", body: "b"}) {
    userErrors { code }
    note { id }
  }
}"""


async def test_an_end_within_a_document_is_not_undone_by_rows_read_before_it(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """The first mutation of the document reads the household; the loaders must not serve
    those rows to the end's payload, which reads as if the household did not exist."""
    alpha = as_user(ALPHA)
    created = await night_household(as_user)
    started = ok(await start(as_user, sql, created["id"]), "startAccompaniment")
    answer = await alpha(
        MULTI, household=created["id"], accompaniment=started["accompaniment"]["id"]
    )
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    assert answer.data["first"]["note"]["household"]["reference"] == created["reference"]
    assert answer.data["end"] == {"userErrors": [], "household": None}
    assert answer.data["after"] == {"userErrors": [{"code": "NOT_FOUND"}], "note": None}


async def test_the_migration_merges_overlaps_without_leaving_a_worker_her_own_access(
    as_user: Viewer, sql: asyncpg.Connection, database_url: str
) -> None:
    """Before 0016 a move could leave two overlapping rows of one organisation, the later
    naming a worker. Merged, they must not leave a row that goes on opening the household
    to that worker once the organisation's accompaniment ends."""
    from alembic import command

    from migrations import alembic_config, upgrade

    household = await one_row(
        sql, "SELECT id FROM households WHERE reference = $1", ALPHA_HOUSEHOLD
    )
    alpha = await one_row(sql, "SELECT id, organisation_id FROM users WHERE login = $1", ALPHA)
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0015")
    await sql.execute(
        "INSERT INTO accompaniments (id, household_id, user_id, organisation_id, validity) "
        "VALUES ($1, $2, $3, $4, tstzrange(now() - interval '1 day', NULL))",
        uuid.uuid4(),
        household["id"],
        alpha["id"],
        alpha["organisation_id"],
    )
    await asyncio.to_thread(upgrade, database_url)

    rows = await sql.fetch(
        "SELECT id, organisation_id FROM accompaniments "
        "WHERE household_id = $1 AND upper_inf(validity)",
        household["id"],
    )
    assert [r["organisation_id"] for r in rows] == [alpha["organisation_id"]], rows
    ok(
        await as_user(OPERATOR)(
            END,
            input={"accompanimentId": gid("Accompaniment", rows[0]["id"]), "reason": "OTHER"},
        ),
        "endAccompaniment",
    )
    assert (await as_user(ALPHA)(RECORD, ref=ALPHA_HOUSEHOLD)).data == {"household": None}
