"""The « Situation du ménage » tab: sections saved one at a time with their own version,
STALE_VERSION with what changed (never an overwrite), the SNE number's format, budget lines
and totals, person sections that follow the person, the protected flag, and each field
answering exactly as the rights matrix says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLObjectType

from auth.policy import SITUATION_CATEGORY, Access, Relationship, allowed
from models.demo import FIRST_75_REFERENCE
from models.situation import ENTITY_TYPE, FIELDS
from schema import build_schema
from schema.rights_matrix import restricted_fields
from tests.conftest import Run, one_row
from tests.test_evaluations import household_gid
from tests.test_mutations import gid, snapshot
from tests.test_rights import SETUPS, Setup, as_setup, forbidden_at, orient_to_chrs
from tests.test_rights import selection as field_selection

__all__ = ["as_setup"]  # the fixture, imported for the rights loop below

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40
OPERATOR = "siao.75@demo.siao"
BETA = "sw.beta@demo.siao"  # accompanies none of them
HOUSEHOLD = "7500000002"  # accompanied by Alpha, no situation in the demo data

SAVE = """
mutation ($input: UpdateHouseholdSituationInput!) {
  updateHouseholdSituation(input: $input) {
    userErrors {
      code message field currentVersion
      changesSince { field before after version by { displayName } }
    }
    section version savedAt
  }
}"""

SITUATION = """
query ($ref: String!) {
  household(reference: $ref) {
    isProtected
    summary { lastSavedAt }
    situation {
      housingSteps {
        version savedAt savedBy { displayName }
        socialHousingNumber socialHousingAppliedOn daloStatus daloFiledOn comment
      }
      housingPrecarity { version livingSituation since evictionProcedure }
      budget {
        version resources { kind amount label } charges { kind amount label }
        debts overindebtednessFile totalResources totalCharges balance
      }
      violence { version victim kinds protectionOrder protected }
      members {
        person { firstName }
        activity { version status registeredJobSeeker }
        administrative { version residenceStatus permitExpiresOn }
        medicoSocial { version healthCoverage pregnant dueDate }
      }
    }
  }
}"""


def save(household: str, patch: dict[str, Any], version: int, person: str | None = None) -> Any:
    data: dict[str, Any] = {"householdId": household, "expectedVersion": version, "patch": patch}
    if person is not None:
        data["personId"] = person
    return data


async def saved(run: Run, **variables: Any) -> dict[str, Any]:
    answer = await run(SAVE, **variables)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result: dict[str, Any] = answer.data["updateHouseholdSituation"]
    return result


async def situation(run: Run, reference: str = HOUSEHOLD) -> dict[str, Any]:
    answer = await run(SITUATION, ref=reference)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result: dict[str, Any] = answer.data["household"]
    return result


async def reference_person(sql: asyncpg.Connection, reference: str = HOUSEHOLD) -> str:
    row = await one_row(
        sql,
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) AND m.relationship = "
        "'REFERENCE_PERSON'",
        reference,
    )
    return gid("Person", row["person_id"])


async def test_each_section_saves_and_reads_back(as_user: Viewer, sql: asyncpg.Connection) -> None:
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    before = await situation(alpha)
    assert before["situation"]["housingSteps"]["version"] == 0
    assert before["situation"]["housingSteps"]["savedAt"] is None

    steps = await saved(
        alpha,
        input=save(
            household,
            {
                "housingSteps": {
                    "socialHousingNumber": "075 24 03 12345 67890 a",
                    "socialHousingAppliedOn": "2024-03-12",
                    "daloStatus": "FILED",
                    "daloFiledOn": "2025-01-20",
                    "comment": "  Dossier complet.  ",
                }
            },
            0,
        ),
    )
    assert steps["userErrors"] == []
    assert (steps["section"], steps["version"]) == ("HOUSING_STEPS", 1)
    assert steps["savedAt"] is not None

    budget = await saved(
        alpha,
        input=save(
            household,
            {
                "budget": {
                    "resources": [
                        {"kind": "RSA", "amount": "635.71"},
                        {"kind": "FAMILY_BENEFITS", "amount": "148", "label": "CAF"},
                    ],
                    "charges": [{"kind": "ACCOMMODATION_FEE", "amount": "90.5"}],
                    "debts": "1200",
                }
            },
            0,
        ),
    )
    assert budget["userErrors"] == []
    person = await reference_person(sql)
    health = await saved(
        alpha,
        input=save(
            household,
            {"medicoSocial": {"healthCoverage": "CSS", "pregnant": True, "dueDate": "2027-02-01"}},
            0,
            person,
        ),
    )
    assert health["userErrors"] == []

    after = await situation(alpha)
    steps_read = after["situation"]["housingSteps"]
    assert steps_read == {
        "version": 1,
        "savedAt": steps["savedAt"],
        "savedBy": {"displayName": steps_read["savedBy"]["displayName"]},
        "socialHousingNumber": "07524031234567890A",
        "socialHousingAppliedOn": "2024-03-12",
        "daloStatus": "FILED",
        "daloFiledOn": "2025-01-20",
        "comment": "Dossier complet.",
    }
    assert steps_read["savedBy"]["displayName"] == "Camille Rousseau"
    money = after["situation"]["budget"]
    assert money["resources"] == [
        {"kind": "RSA", "amount": "635.71", "label": None},
        {"kind": "FAMILY_BENEFITS", "amount": "148.00", "label": "CAF"},
    ]
    assert (money["totalResources"], money["totalCharges"], money["balance"]) == (
        "783.71",
        "90.50",
        "693.21",
    )
    assert money["debts"] == "1200.00"
    reference = after["situation"]["members"][0]
    assert reference["medicoSocial"] == {
        "version": 1,
        "healthCoverage": "CSS",
        "pregnant": True,
        "dueDate": "2027-02-01",
    }
    assert reference["activity"]["version"] == 0
    # The header's "Sauvegardé le" follows the last section saved.
    assert after["summary"]["lastSavedAt"] == health["savedAt"]

    row = await one_row(
        sql,
        "SELECT data FROM situation_sections WHERE section = 'HOUSING_STEPS' "
        "AND household_id = (SELECT id FROM households WHERE reference = $1)",
        HOUSEHOLD,
    )
    assert '"socialHousingNumber": "07524031234567890A"' in row["data"]


async def test_a_patch_keeps_absent_fields_clears_nulls_and_logs_each_change(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    first = {"livingSituation": "HOTEL", "since": "2025-06-01", "evictionProcedure": True}
    await saved(alpha, input=save(household, {"housingPrecarity": first}, 0))
    second = await saved(
        alpha, input=save(household, {"housingPrecarity": {"evictionProcedure": None}}, 1)
    )
    assert second["version"] == 2
    read = (await situation(alpha))["situation"]["housingPrecarity"]
    assert read == {
        "version": 2,
        "livingSituation": "HOTEL",
        "since": "2025-06-01",
        "evictionProcedure": None,
    }
    # Saving the same values again writes nothing: same version, no new change-log entry.
    events = (
        "SELECT count(*) FROM audit_events WHERE entity_type = 'HousingPrecaritySection' "
        "AND household_id = (SELECT id FROM households WHERE reference = $1)"
    )
    logged = await sql.fetchval(events, HOUSEHOLD)
    again = await saved(
        alpha, input=save(household, {"housingPrecarity": {"livingSituation": "HOTEL"}}, 2)
    )
    assert (again["userErrors"], again["version"]) == ([], 2)
    assert await sql.fetchval(events, HOUSEHOLD) == logged == 2

    log = await alpha(
        """query ($ref: String!) { household(reference: $ref) {
             auditEvents(filter: {entityType: "HousingPrecaritySection"}) {
               edges { node { action changes } } } } }""",
        ref=HOUSEHOLD,
    )
    assert log.data is not None, log.errors
    changes = [e["node"] for e in log.data["household"]["auditEvents"]["edges"]]
    assert changes[0]["action"] == "UPDATE"
    assert changes[0]["changes"] == {
        "evictionProcedure": {"before": True, "after": None},
        "version": {"before": 1, "after": 2},
    }
    assert changes[1]["action"] == "CREATE"
    assert changes[1]["changes"]["livingSituation"] == {"before": None, "after": "HOTEL"}


async def test_two_saves_with_the_same_version_one_wins_the_other_is_told_what_changed(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """The autosave of two colleagues on one section: nothing is overwritten, no field is
    lost, and the loser learns what the winner saved."""
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    base = {"housingSteps": {"comment": "Premier passage.", "daloStatus": "NONE"}}
    assert (await saved(alpha, input=save(household, base, 0)))["version"] == 1

    one = save(household, {"housingSteps": {"daloStatus": "FILED"}}, 1)
    two = save(household, {"housingSteps": {"comment": "Dossier SNE à renouveler."}}, 1)
    results = await asyncio.gather(saved(alpha, input=one), saved(alpha, input=two))
    winners = [r for r in results if r["userErrors"] == []]
    losers = [r for r in results if r["userErrors"] != []]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert winners[0]["version"] == 2
    error = losers[0]["userErrors"][0]
    assert (error["code"], error["currentVersion"], error["field"]) == (
        "STALE_VERSION",
        2,
        ["expectedVersion"],
    )
    assert losers[0]["version"] is None
    assert losers[0]["savedAt"] is None
    won_with_dalo = results[0] is winners[0]
    expected_change = (
        {"field": "daloStatus", "before": "NONE", "after": "FILED", "version": 2}
        if won_with_dalo
        else {
            "field": "comment",
            "before": "Premier passage.",
            "after": "Dossier SNE à renouveler.",
            "version": 2,
        }
    )
    (change,) = error["changesSince"]
    assert {k: change[k] for k in expected_change} == expected_change
    assert change["by"]["displayName"]

    stored = (await situation(alpha))["situation"]["housingSteps"]
    assert stored["version"] == 2
    if won_with_dalo:
        assert (stored["daloStatus"], stored["comment"]) == ("FILED", "Premier passage.")
    else:
        assert (stored["daloStatus"], stored["comment"]) == ("NONE", "Dossier SNE à renouveler.")


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("12345", "national register number"),
        ("0752403123456789", "national register number"),  # too short
        ("0992403123456789AB", "national register number"),  # no département 099
        ("0752413123456789AB", "national register number"),  # month 13
        ("075 99 12 12345 67890 A", "future"),  # applied in December 2099
        ("075-24-03-1234\u200b5-67890-A", "national register number"),
    ],
)
async def test_a_malformed_social_housing_number_is_refused_and_nothing_changes(
    as_user: Viewer, sql: asyncpg.Connection, number: str, why: str
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    before = await snapshot(sql)
    patch = {"housingSteps": {"socialHousingNumber": number, "comment": "ok"}}
    result = await saved(as_user(ALPHA), input=save(household, patch, 0))
    (error,) = result["userErrors"]
    assert error["code"] == "INVALID_SOCIAL_HOUSING_NUMBER"
    assert error["field"] == ["patch", "socialHousingNumber"]
    assert why in error["message"]
    assert await snapshot(sql) == before


@pytest.mark.parametrize(
    ("patch", "code", "field"),
    [
        ({"budget": {"debts": "-1"}}, "INVALID_AMOUNT", ["patch", "debts"]),
        ({"budget": {"debts": "10.001"}}, "INVALID_AMOUNT", ["patch", "debts"]),
        (
            {"budget": {"charges": [{"kind": "RENT", "amount": "1e9"}]}},
            "INVALID_AMOUNT",
            ["patch", "charges", "0", "amount"],
        ),
        ({"housingSteps": {"daloFiledOn": "2999-01-01"}}, "INVALID_DATE", ["patch", "daloFiledOn"]),
        ({"housingSteps": {"comment": "x" * 2001}}, "INVALID_TEXT", ["patch", "comment"]),
        ({"violence": {"protected": None}}, "INVALID_INPUT", ["patch", "protected"]),
        ({"activity": {"status": "STUDENT"}}, "PERSON_REQUIRED", ["personId"]),
    ],
)
async def test_bad_values_are_refused_with_the_field_at_fault(
    as_user: Viewer,
    sql: asyncpg.Connection,
    patch: dict[str, Any],
    code: str,
    field: list[str],
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    before = await snapshot(sql)
    result = await saved(as_user(ALPHA), input=save(household, patch, 0))
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, field)]
    assert await snapshot(sql) == before


async def test_person_sections_belong_to_current_members(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    person = await reference_person(sql)
    stranger = await reference_person(sql, "7500000005")
    before = await snapshot(sql)
    not_here = await saved(
        alpha, input=save(household, {"activity": {"status": "JOB_SEEKER"}}, 0, stranger)
    )
    assert [e["code"] for e in not_here["userErrors"]] == ["NOT_A_MEMBER"]
    household_section = await saved(
        alpha, input=save(household, {"budget": {"debts": "0"}}, 0, person)
    )
    assert [e["code"] for e in household_section["userErrors"]] == ["PERSON_NOT_EXPECTED"]
    assert await snapshot(sql) == before
    both = await alpha(
        SAVE,
        input=save(household, {"activity": {"status": "STUDENT"}, "budget": {}}, 0, person),
    )
    assert both.data is None
    assert both.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "exactly one key" in both.errors[0]["message"]
    assert await snapshot(sql) == before


async def test_the_violence_section_sets_the_protected_flag(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Protecting a household hides it from the searches of those who do not accompany it."""
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    name = await one_row(
        sql,
        "SELECT p.first_name, p.last_name FROM persons p JOIN memberships m ON m.person_id = p.id "
        "JOIN households h ON h.id = m.household_id WHERE h.reference = $1 LIMIT 1",
        HOUSEHOLD,
    )
    search = """query ($q: String!) { searchPersons(query: $q, first: 50) {
                  edges { node { householdReference } } } }"""

    async def found_by_beta() -> bool:
        answer = await as_user(BETA)(search, q=f"{name['first_name']} {name['last_name']}")
        assert answer.data is not None, answer.errors
        edges = answer.data["searchPersons"]["edges"]
        return any(e["node"]["householdReference"] == HOUSEHOLD for e in edges)

    assert await found_by_beta()
    result = await saved(
        alpha,
        input=save(
            household,
            {
                "violence": {
                    "victim": True,
                    "kinds": ["SEXUAL", "DOMESTIC", "SEXUAL"],
                    "protected": True,
                }
            },
            0,
        ),
    )
    assert result["userErrors"] == []
    read = await situation(alpha)
    assert read["isProtected"] is True
    assert read["situation"]["violence"] == {
        "version": 1,
        "victim": True,
        "kinds": ["DOMESTIC", "SEXUAL"],
        "protectionOrder": None,
        "protected": True,
    }
    assert not await found_by_beta()
    logged = await one_row(
        sql,
        "SELECT changes FROM audit_events WHERE entity_type = 'ViolenceSection' "
        "ORDER BY at DESC LIMIT 1",
    )
    assert '"protected": {"after": true, "before": false}' in logged["changes"]


async def test_only_those_who_may_write_a_category_save_its_section(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, HOUSEHOLD)
    before = await snapshot(sql)
    for login in (OPERATOR, "beneficiary@demo.siao", "manager.chrs@demo.siao"):
        answer = await as_user(login)(
            SAVE, input=save(household, {"housingSteps": {"comment": "x"}}, 0)
        )
        assert answer.data is None, login
        assert answer.errors[0]["extensions"]["code"] == "FORBIDDEN", login
    # A social worker may write SITUATION, but not of a household they do not accompany:
    # for them it does not exist.
    other = await saved(as_user(BETA), input=save(household, {"housingSteps": {"comment": "x"}}, 0))
    assert [e["code"] for e in other["userErrors"]] == ["NOT_FOUND"]
    assert await snapshot(sql) == before


async def test_reading_health_and_violence_sections_is_logged(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    household = await household_gid(sql, HOUSEHOLD)
    await saved(alpha, input=save(household, {"violence": {"victim": False}}, 0))
    count = "SELECT count(*) FROM access_events WHERE category = $1 AND household_id = " + (
        "(SELECT id FROM households WHERE reference = $2)"
    )
    health = await sql.fetchval(count, "HEALTH", HOUSEHOLD)
    violence = await sql.fetchval(count, "VIOLENCE", HOUSEHOLD)
    await situation(alpha)
    assert await sql.fetchval(count, "HEALTH", HOUSEHOLD) == health + 1
    assert await sql.fetchval(count, "VIOLENCE", HOUSEHOLD) == violence + 1
    # The SIAO may not read health: nothing is read, nothing logged, the field says so.
    answer = await as_user(OPERATOR)(SITUATION, ref=HOUSEHOLD)
    assert answer.data is not None
    members = answer.data["household"]["situation"]["members"]
    assert all(m["medicoSocial"] is None for m in members)
    assert {tuple(e["path"][-1:]) for e in answer.errors} == {("medicoSocial",)}
    assert await sql.fetchval(count, "HEALTH", HOUSEHOLD) == health + 1


# Where each type sits under `Household.situation`, and what to select below a field.
SECTION_PATHS = {
    "HouseholdSituation": [],
    "HousingStepsSection": ["housingSteps"],
    "HousingPrecaritySection": ["housingPrecarity"],
    "BudgetSection": ["budget"],
    "ViolenceSection": ["violence"],
    "MemberSituation": ["members"],
    "ActivitySection": ["members", "activity"],
    "AdministrativeSection": ["members", "administrative"],
    "MedicoSocialSection": ["members", "medicoSocial"],
}


async def test_every_situation_field_answers_exactly_as_the_policy_says(
    as_setup: Callable[[Setup], Run], sql: asyncpg.Connection
) -> None:
    """The rights matrix through `household { situation { ... } }`, for every restricted
    field of every section type and every relationship: denied exactly when the policy
    says, at the first field of the path the viewer may not read."""
    fields = [f for f in restricted_fields() if f.type_name in SECTION_PATHS]
    assert {f.type_name for f in fields} == set(SECTION_PATHS)
    category = {(f.type_name, f.field_name): f.category for f in fields}
    parent_type = {"members": "HouseholdSituation", "housingSteps": "HouseholdSituation"}
    for name in ("housingPrecarity", "budget", "violence"):
        parent_type[name] = "HouseholdSituation"
    for name in ("activity", "administrative", "medicoSocial"):
        parent_type[name] = "MemberSituation"
    demand = await one_row(
        sql,
        "SELECT d.id FROM demands d JOIN households h ON h.id = d.household_id "
        "WHERE h.reference = $1 LIMIT 1",
        FIRST_75_REFERENCE,
    )
    await orient_to_chrs(as_setup(SETUPS[1]), sql, gid("Demand", demand["id"]))
    manager = Setup("structure", Relationship.ORIENTED_OR_HOSTING, "manager.chrs@demo.siao")
    cases = 0
    for setup in [*SETUPS, manager]:
        run = as_setup(setup)
        scopes = setup.partner_scopes or frozenset()
        for item in fields:
            steps = [*SECTION_PATHS[item.type_name], item.field_name]
            selection = field_selection(item.type_name, item.field_name)
            for parent in reversed(SECTION_PATHS[item.type_name]):
                selection = f"{parent} {{ {selection} }}"
            answer = await run(
                "query ($ref: String!) { household(reference: $ref) "
                f"{{ situation {{ {selection} }} }} }}",
                ref=FIRST_75_REFERENCE,
            )
            assert answer.data is not None, (setup.name, item)
            assert answer.data["household"], (setup.name, item)
            # The first step of the path the policy denies is where the error must be.
            path: list[str | int] = ["household", "situation"]
            expected_denial = None
            for step in steps:
                path.append(step)
                owner = item.type_name if step == item.field_name else parent_type[step]
                if not allowed(category[(owner, step)], setup.relationship, Access.READ, scopes):
                    expected_denial = list(path)
                    break
                if step == "members" and step != item.field_name:
                    path.append(0)
            if expected_denial is None:
                assert answer.errors == [], (setup.name, item, answer.errors)
            else:
                assert forbidden_at(answer, expected_denial), (setup.name, item, answer.errors)
                # Once per member when under `members`; nowhere else.
                where = {
                    tuple(p for p in e["path"] if not isinstance(p, int)) for e in answer.errors
                }
                assert where == {tuple(p for p in expected_denial if not isinstance(p, int))}
            cases += 1
    print(f"situation rights: {cases} cases checked")  # noqa: T201
    assert cases == len(fields) * (len(SETUPS) + 1)


async def test_the_situation_tab_costs_the_same_statements_for_one_or_many_households(
    as_user: Viewer,
) -> None:
    """One statement for the household sections of every household listed, one for the
    person sections of every member: the count does not grow with the number of rows."""
    document = """query ($first: Int!) { households(first: $first) { edges { node {
        situation {
          housingSteps { version socialHousingNumber }
          budget { version totalResources }
          violence { victim }
          members { person { firstName } activity { status } medicoSocial { pregnant } }
        } } } } }"""
    alpha = as_user(ALPHA)
    counts = []
    for first in (2, 30):
        answer = await alpha(document, first=first)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        assert len(answer.data["households"]["edges"]) == first
        counts.append(answer.extensions["sql"]["statements"])
    assert counts[0] == counts[1], counts


def test_every_section_field_carries_its_sections_category() -> None:
    """Deny by default: a field added to a section type without the section's category
    (or to `models.situation.FIELDS` without a GraphQL field) fails here."""
    restricted = {(f.type_name, f.field_name): f.category for f in restricted_fields()}
    types = build_schema()._schema.type_map
    for section, names in FIELDS.items():
        type_name = ENTITY_TYPE[section]
        graphql_type = types[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        own = set(graphql_type.fields) - {"version", "savedAt", "savedBy"}
        assert set(names) <= own, type_name
        for name in own:
            assert restricted.get((type_name, name)) is SITUATION_CATEGORY[section], (
                f"{type_name}.{name} has no {SITUATION_CATEGORY[section].value} category"
            )
