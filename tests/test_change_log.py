"""The change log tab ("Suivi des modifications"): filters by actor, kind of record,
action, period and words, masked values that a search cannot probe, and a flat cost; the
content's own categories (one marker per category, never the fields' names; criteria and
sections split by category; section saves hidden from who may not read their category;
moves that name only households the viewer sees) and the access events of a text search."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run, one_row
from tests.test_evaluations import RECORD, deep, flash, household_gid, raw_id
from tests.test_mutations import MOVE, gid
from tests.test_notes import CREATE, UPDATE
from tests.test_situation import SAVE, reference_person, save

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"
OPERATOR = "siao.75@demo.siao"
BENEFICIARY = "beneficiary@demo.siao"
BETA = "sw.beta@demo.siao"  # accompanies 7500000041-80

LOG = """
query ($ref: String!, $filter: AuditFilter, $first: Int!, $after: String) {
  household(reference: $ref) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id at action entityType entityId changes actor { id displayName } } }
    }
  }
}"""


async def log(
    run: Run, filter: dict[str, Any] | None = None, ref: str = FIRST_75_REFERENCE
) -> list[dict[str, Any]]:
    """Every event of the household `ref` (7500000001) matching `filter`, page after page."""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await run(LOG, ref=ref, filter=filter, first=100, after=after)
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
    # The household reads its log, but not its notes: a note's events (who wrote one,
    # when, pinned until when) are the notes' own metadata and are not listed to it, and a
    # search finds nothing of them, by content or by author.
    assert await log(household, {"entityType": "Note"}) == []
    assert await log(household, {"text": "zanzibar"}) == []
    assert await log(household, {"text": "camille rousseau", "entityType": "Note"}) == []
    # ...while words in what it may read are found: the actor's name, the action.
    by_name = await log(household, {"text": "camille rousseau"})
    assert by_name
    assert "Note" not in {e["entityType"] for e in by_name}


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


# --- content carries its own category --------------------------------------------------


def event_of(events: list[dict[str, Any]], entity_id: str) -> dict[str, Any]:
    found = [e for e in events if e["entityId"] == entity_id]
    assert len(found) == 1, entity_id
    return found[0]


async def test_a_viewer_without_health_sees_one_marker_for_the_health_criteria(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    criteria = ["PREGNANCY", "DISABILITY", "STREET_TONIGHT"]
    recorded = await as_user(ALPHA)(RECORD, input=flash(household, 4, criteria=criteria))
    assert recorded.data is not None
    evaluation = recorded.data["recordEvaluation"]["evaluation"]["id"]
    only = {"entityType": "Evaluation", "action": "CREATE"}

    alpha = event_of(await log(as_user(ALPHA), only), evaluation)["changes"]
    assert alpha["criteria"] == {"before": None, "after": ["STREET_TONIGHT"]}
    assert alpha["healthCriteria"] == {"before": None, "after": ["PREGNANCY", "DISABILITY"]}
    assert alpha["violenceCriteria"] == {"before": None, "after": []}
    assert "restricted" not in alpha

    siao = event_of(await log(as_user(OPERATOR), only), evaluation)["changes"]
    assert siao == {
        "kind": {"before": None, "after": "FLASH"},
        "vulnerabilityLevel": {"before": None, "after": 4},
        "criteria": {"before": None, "after": ["STREET_TONIGHT"]},
        "violenceCriteria": {"before": None, "after": []},
        "restricted": ["HEALTH"],
    }
    # the marker is there whatever was checked: a flash evaluation without any health
    # criterion shows the same one
    plain = await as_user(ALPHA)(RECORD, input=flash(household, 1, criteria=["ELDERLY"]))
    assert plain.data is not None
    other = plain.data["recordEvaluation"]["evaluation"]["id"]
    assert event_of(await log(as_user(OPERATOR), only), other)["changes"]["restricted"] == [
        "HEALTH"
    ]
    # and a search cannot tell what the masked criteria are
    assert await log(as_user(OPERATOR), {"text": "pregnancy"}) == []
    assert [e["entityId"] for e in await log(as_user(ALPHA), {"text": "pregnancy"})] == [evaluation]


async def test_the_health_section_of_a_deep_evaluation_is_left_out_of_the_log(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    texts = {"housingPath": "À la rue depuis mai.", "health": "Diabète, suivi à l'hôpital."}
    recorded = await as_user(ALPHA)(RECORD, input=deep(household, texts))
    assert recorded.data is not None
    evaluation = recorded.data["recordEvaluation"]["evaluation"]["id"]
    only = {"entityType": "Evaluation"}
    alpha = event_of(await log(as_user(ALPHA), only), evaluation)["changes"]
    assert alpha["sections"] == {"before": None, "after": texts}
    siao = event_of(await log(as_user(OPERATOR), only), evaluation)["changes"]
    assert siao["sections"] == {"before": None, "after": {"housingPath": "À la rue depuis mai."}}
    assert siao["restricted"] == ["HEALTH"]
    assert "Diab" not in str(siao)
    assert await log(as_user(OPERATOR), {"text": "diabete"}) == []
    assert len(await log(as_user(ALPHA), {"text": "diabete"})) == 1


AUDIT_NODE = """
query ($id: ID!) { node(id: $id) { ... on AuditEvent { action entityType changes } } }"""


async def test_a_medico_social_save_is_not_listed_to_who_may_not_read_health(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Which member's medical section was saved, and when, is itself HEALTH: the SIAO's log
    does not list the save (nor count it, nor find it by id); who may read HEALTH sees which
    fields changed."""
    household = await household_gid(sql, FIRST_75_REFERENCE)
    person = await reference_person(sql, FIRST_75_REFERENCE)
    version = await sql.fetchval(
        "SELECT coalesce(max(version), 0) FROM situation_sections "
        "WHERE person_id = $1 AND section = 'MEDICO_SOCIAL'",
        raw_id(person),
    )
    patch = {"medicoSocial": {"dueDate": "2027-03-01", "followUp": "Suivie par la PMI."}}
    answer = await as_user(ALPHA)(SAVE, input=save(household, patch, version, person))
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    assert answer.data["updateHouseholdSituation"]["userErrors"] == []
    row = await one_row(
        sql,
        "SELECT id FROM audit_events WHERE entity_type = 'MedicoSocialSection' "
        "ORDER BY at DESC LIMIT 1",
    )
    saved_event = gid("AuditEvent", row["id"])
    total = await sql.fetchval(
        "SELECT count(*) FROM audit_events WHERE household_id = "
        "(SELECT id FROM households WHERE reference = $1)",
        FIRST_75_REFERENCE,
    )
    medical = await sql.fetchval(
        "SELECT count(*) FROM audit_events WHERE household_id = "
        "(SELECT id FROM households WHERE reference = $1) "
        "AND entity_type IN ('MedicoSocialSection', 'MedicoSocialAttachment')",
        FIRST_75_REFERENCE,
    )

    for login in (ALPHA, BENEFICIARY):
        events = await log(as_user(login))
        (changes,) = [e["changes"] for e in events if e["id"] == saved_event]
        assert changes["dueDate"]["after"] == "2027-03-01", login
        assert changes["followUp"]["after"] == "Suivie par la PMI.", login

    operator = as_user(OPERATOR)
    events = await log(operator)  # its totalCount is the number of events listed
    assert len(events) == total - medical
    assert saved_event not in [e["id"] for e in events]
    assert "MedicoSocial" not in str(events)
    assert "PMI" not in str(events)
    assert await log(operator, {"entityType": "MedicoSocialSection"}) == []
    by_id = await operator(AUDIT_NODE, id=saved_event)
    assert by_id.errors == []
    assert by_id.data == {"node": None}
    # who may read HEALTH finds it by id
    alpha = await as_user(ALPHA)(AUDIT_NODE, id=saved_event)
    assert alpha.data is not None
    assert alpha.data["node"]["entityType"] == "MedicoSocialSection"


async def move(as_user: Viewer, sql: asyncpg.Connection, to: str) -> tuple[str, str]:
    """The SIAO moves a child of 7500000001 to the household `to`; the global ids of the
    membership she left and of the one she joined."""
    person = await sql.fetchval(
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) AND m.relationship <> "
        "'REFERENCE_PERSON' ORDER BY m.person_id LIMIT 1",
        FIRST_75_REFERENCE,
    )
    target = await one_row(sql, "SELECT id, version FROM households WHERE reference = $1", to)
    answer = await as_user(OPERATOR)(
        MOVE,
        input={
            "personId": gid("Person", person),
            "toHouseholdId": gid("Household", target["id"]),
            "relationship": "OTHER_RELATIVE",
            "expectedVersion": target["version"],
        },
    )
    assert answer.data is not None, answer.errors
    assert answer.data["moveHouseholdMember"]["userErrors"] == []
    rows = await sql.fetch(
        "SELECT id FROM memberships WHERE person_id = $1 ORDER BY lower(validity) DESC LIMIT 2",
        person,
    )
    return gid("Membership", rows[1]["id"]), gid("Membership", rows[0]["id"])


async def test_a_move_shows_only_the_households_the_viewer_may_see(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Alpha follows 7500000001, not 7500000045 (Bêta's): when a member goes there, Alpha's
    log says she left, not where to; Bêta's says she came, not from where; the SIAO, who
    sees both, reads both."""
    hidden = "7500000045"
    target = await sql.fetchval("SELECT id FROM households WHERE reference = $1", hidden)
    source = await sql.fetchval(
        "SELECT id FROM households WHERE reference = $1", FIRST_75_REFERENCE
    )
    left, joined = await move(as_user, sql, hidden)

    alpha = event_of(await log(as_user(ALPHA), {"action": "MOVE_OUT"}), left)["changes"]
    assert set(alpha) == {"validTo"}
    assert str(target) not in str(alpha)
    # nor can a search spell the id out
    assert await log(as_user(ALPHA), {"text": str(target)[:8]}) == []
    by_id = await as_user(ALPHA)(
        AUDIT_NODE,
        id=gid(
            "AuditEvent",
            await sql.fetchval(
                "SELECT id FROM audit_events WHERE action = 'MOVE_OUT' AND entity_id = $1",
                raw_id(left),
            ),
        ),
    )
    assert by_id.data is not None
    assert set(by_id.data["node"]["changes"]) == {"validTo"}

    beta = event_of(await log(as_user(BETA), {"action": "MOVE_IN"}, ref=hidden), joined)
    assert "fromHousehold" not in beta["changes"]
    assert str(source) not in str(beta)

    siao = as_user(OPERATOR)
    out = event_of(await log(siao, {"action": "MOVE_OUT"}), left)["changes"]
    assert out["toHousehold"] == {"before": None, "after": str(target)}
    into = event_of(await log(siao, {"action": "MOVE_IN"}, ref=hidden), joined)["changes"]
    assert into["fromHousehold"] == {"before": None, "after": str(source)}


async def test_a_move_to_a_household_the_viewer_sees_shows_it(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    target = await sql.fetchval("SELECT id FROM households WHERE reference = '7500000002'")
    left, _ = await move(as_user, sql, "7500000002")  # Alpha follows both
    alpha = event_of(await log(as_user(ALPHA), {"action": "MOVE_OUT"}), left)["changes"]
    assert alpha["toHousehold"] == {"before": None, "after": str(target)}


COUNT = """
query ($ref: String!, $filter: AuditFilter) {
  household(reference: $ref) { auditEvents(filter: $filter, first: 1) { totalCount } }
}"""
READS = (
    "SELECT coalesce(array_agg(DISTINCT a.category ORDER BY a.category), '{}') "
    "FROM access_events a JOIN users u ON u.id = a.viewer_id "
    "JOIN households h ON h.id = a.household_id WHERE u.login = $1 AND h.reference = $2"
)


@pytest.mark.parametrize(
    ("login", "categories"),
    [
        (ALPHA, ["ADMINISTRATIVE", "BUDGET", "EVALUATION", "HEALTH", "NOTES", "VIOLENCE"]),
        (OPERATOR, ["ADMINISTRATIVE", "BUDGET", "EVALUATION", "NOTES", "VIOLENCE"]),
        (BENEFICIARY, ["ADMINISTRATIVE", "BUDGET", "EVALUATION", "HEALTH", "VIOLENCE"]),
    ],
)
async def test_a_text_filter_is_a_read_of_the_logged_values_it_looks_into(
    as_user: Viewer, sql: asyncpg.Connection, login: str, categories: list[str]
) -> None:
    """Which events match a word answers a question on their values: the search writes
    the access events that reading those values would (categories the viewer may read),
    even when nothing matches and no value is shown."""
    run = as_user(login)
    plain = await run(COUNT, ref=FIRST_75_REFERENCE, filter={"action": "UPDATE"})
    assert plain.errors == []
    assert await sql.fetchval(READS, login, FIRST_75_REFERENCE) == []
    searched = await run(COUNT, ref=FIRST_75_REFERENCE, filter={"text": "enceinte"})
    assert searched.errors == []
    assert await sql.fetchval(READS, login, FIRST_75_REFERENCE) == categories
    assert await sql.fetchval(READS, login, "7500000002") == []
