"""A member moved out into a household of her own keeps the protection and the followers
of the household she left: a victim of violence given her own file is not handed to the
territory's partners, nor to other workers' searches, nor left followed by nobody (who
alone could keep or lift her protection)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from auth.tokens import PartnerGrant, mint_dev_token
from tests.conftest import Answer, Run, http_client, one_row
from tests.test_mutations import gid

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40 (in person the odd ones)
BETA = "sw.beta@demo.siao"  # accompanies 7500000041-80
OPERATOR = "siao.75@demo.siao"
PROTECTED = "7500000003"  # protected, accompanied by Alpha and sw.alpha
UNPROTECTED = "7500000004"  # Alpha's, three members, not protected

MOVE_OUT = """
mutation ($input: MoveHouseholdMemberInput!) {
  moveHouseholdMember(input: $input) {
    userErrors { code message }
    household { id reference }
  }
}"""
HOUSEHOLD = """
query ($ref: String!) {
  household(reference: $ref) { id reference isProtected }
}"""
# (a partner may not read `isProtected`)
PARTNER_HOUSEHOLD = """
query ($ref: String!) {
  household(reference: $ref) { id reference }
}"""
NODE = """
query ($id: ID!) {
  node(id: $id) { id ... on Household { reference } }
}"""
SAVE = """
mutation ($input: UpdateHouseholdSituationInput!) {
  updateHouseholdSituation(input: $input) {
    userErrors { code message }
    version
  }
}"""
SEARCH = """
query ($q: String!, $birthDate: Date) {
  searchPersons(query: $q, birthDate: $birthDate, first: 50) {
    edges { node { firstName lastName householdReference } }
  }
}"""


def data(answer: Answer) -> dict[str, Any]:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return answer.data


async def move_out(run: Run, sql: asyncpg.Connection, reference: str) -> tuple[asyncpg.Record, str]:
    """Move a member of `reference` (not its reference person) into a new household; the
    member, and the new household's reference."""
    person = await one_row(
        sql,
        "SELECT p.id, p.first_name, p.last_name, p.birth_date FROM memberships m "
        "JOIN households h ON h.id = m.household_id JOIN persons p ON p.id = m.person_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) "
        "ORDER BY m.relationship = 'REFERENCE_PERSON', p.id LIMIT 1",
        reference,
    )
    moved = data(await run(MOVE_OUT, input={"personId": gid("Person", person["id"])}))
    payload = moved["moveHouseholdMember"]
    assert payload["userErrors"] == []
    new = await sql.fetchval(
        "SELECT h.reference FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE m.person_id = $1 AND upper_inf(m.validity)",
        person["id"],
    )
    assert new != reference
    return person, new


@pytest.fixture
def as_partner(app: Starlette, settings: Settings) -> Run:
    """A partner of territory 75 that may read minimal identities (`identity_min:read`)."""
    grant = PartnerGrant(
        name="SYPLO", scopes=frozenset({PartnerScope.IDENTITY_MIN_READ}), territory="75"
    )
    token = mint_dev_token(settings, "partner:SYPLO", partner=grant)

    async def run(document: str, **variables: Any) -> Answer:
        async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
            body = (
                await client.post("/graphql", json={"query": document, "variables": variables})
            ).json()
        return Answer(body.get("data"), body.get("errors", []), body.get("extensions", {}))

    return run


async def found_in(run: Run, person: asyncpg.Record) -> list[str | None]:
    """The household references of the search results bearing her names."""
    answer = data(
        await run(
            SEARCH,
            q=f"{person['first_name']} {person['last_name']}",
            birthDate=person["birth_date"].isoformat() if person["birth_date"] else None,
        )
    )
    return [
        e["node"]["householdReference"]
        for e in answer["searchPersons"]["edges"]
        if (e["node"]["firstName"], e["node"]["lastName"])
        == (person["first_name"], person["last_name"])
    ]


async def created(sql: asyncpg.Connection, household: uuid.UUID) -> Any:
    """The changes of the household's CREATE event."""
    changes = await sql.fetchval(
        "SELECT changes FROM audit_events WHERE entity_type = 'Household' "
        "AND action = 'CREATE' AND entity_id = $1",
        household,
    )
    return json.loads(changes)


@pytest.mark.parametrize("actor", [ALPHA, OPERATOR])
async def test_a_member_moved_out_of_a_protected_household_stays_protected_and_followed(
    as_user: Viewer, as_partner: Run, sql: asyncpg.Connection, actor: str
) -> None:
    # Given a member of a protected household Alpha accompanies, moved into a new
    # household by Alpha's worker or by the SIAO
    person, new = await move_out(as_user(actor), sql, PROTECTED)
    household = await one_row(sql, "SELECT id FROM households WHERE reference = $1", new)

    # Then Alpha's worker still follows her: reads her household, protected...
    alpha = as_user(ALPHA)
    read = data(await alpha(HOUSEHOLD, ref=new))["household"]
    assert read == {"id": gid("Household", household["id"]), "reference": new, "isProtected": True}
    # ...and may write its violence section (where the protection is kept or lifted)
    saved = data(
        await alpha(
            SAVE,
            input={
                "householdId": read["id"],
                "expectedVersion": 0,
                "patch": {"violence": {"protectionOrder": True}},
            },
        )
    )["updateHouseholdSituation"]
    assert saved == {"userErrors": [], "version": 1}
    assert new in await found_in(alpha, person)

    # the territory's partner does not see the household, by reference or by id
    assert data(await as_partner(PARTNER_HOUSEHOLD, ref=new))["household"] is None
    assert data(await as_partner(NODE, id=read["id"]))["node"] is None
    # another organisation's worker does not find her
    assert new not in await found_in(as_user(BETA), person)

    # and the change log says so: protected at its creation, accompanied once by Alpha's
    # worker and organisation (carried over, not doubled by the actor's own)
    assert await created(sql, household["id"]) == {
        "territory": {"before": None, "after": "75"},
        "protected": {"before": None, "after": True},
    }
    followers = await sql.fetch(
        "SELECT u.login, o.name, upper_inf(a.validity) AS open FROM accompaniments a "
        "LEFT JOIN users u ON u.id = a.user_id JOIN organisations o ON o.id = a.organisation_id "
        "WHERE a.household_id = $1",
        household["id"],
    )
    assert [(f["login"], f["open"]) for f in followers] == [(ALPHA, True)]
    assert await sql.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_type = 'Accompaniment' "
        "AND action = 'ACCOMPANY' AND household_id = $1",
        household["id"],
    ) == len(followers)


async def test_a_member_moved_out_of_an_unprotected_household_is_not_protected(
    as_user: Viewer, as_partner: Run, sql: asyncpg.Connection
) -> None:
    person, new = await move_out(as_user(OPERATOR), sql, UNPROTECTED)

    read = data(await as_user(ALPHA)(HOUSEHOLD, ref=new))["household"]
    assert read is not None
    assert read["isProtected"] is False
    # partners and the territory's other workers see her as they see any household
    assert data(await as_partner(PARTNER_HOUSEHOLD, ref=new))["household"]["reference"] == new
    assert data(await as_partner(NODE, id=read["id"]))["node"] == {
        "id": read["id"],
        "reference": new,
    }
    assert new in await found_in(as_user(BETA), person)
    household = await sql.fetchval("SELECT id FROM households WHERE reference = $1", new)
    assert (await created(sql, household))["protected"] == {"before": None, "after": False}
