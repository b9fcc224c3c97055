"""Notes: written, edited and deleted by their author only, pinned until a date (expiry by
moving the app's clock, never by sleeping), searched in French, filtered, masked in the
change log for viewers who may not read notes, and a flat statement count."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from auth.settings import Settings
from models.demo import FIRST_75_REFERENCE
from server import create_app
from tests.conftest import Run, one_row
from tests.test_evaluations import household_gid, raw_id
from tests.test_mutations import gid, snapshot

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40
OPERATOR = "siao.75@demo.siao"
BENEFICIARY = "beneficiary@demo.siao"  # a member of 7500000001
CLOSED = "7500000120"


@dataclass
class MovableClock:
    """The app's clock in these tests: moved by hand, never by waiting."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture
async def app(
    settings: Settings, database_url: str, clock: MovableClock
) -> AsyncIterator[Starlette]:
    """The app of every test here runs on the movable clock."""
    application = create_app(settings, database_url, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


NOTE_FIELDS = """
id title body version createdAt pinnedUntil isPinned
author { displayName } concernedPersons { id firstName }
"""
CREATE = f"""
mutation ($input: CreateNoteInput!) {{
  createNote(input: $input) {{
    userErrors {{ code message field }}
    note {{ {NOTE_FIELDS} }}
  }}
}}"""
UPDATE = """
mutation ($input: UpdateNoteInput!) {
  updateNote(input: $input) {
    userErrors { code message field currentVersion }
    note { title body version }
  }
}"""
DELETE = """
mutation ($input: DeleteNoteInput!) {
  deleteNote(input: $input) { userErrors { code message } deletedNoteId }
}"""
PIN = """
mutation ($input: PinNoteInput!) {
  pinNote(input: $input) { userErrors { code message field } note { isPinned pinnedUntil } }
}"""
UNPIN = """
mutation ($input: UnpinNoteInput!) {
  unpinNote(input: $input) { userErrors { code } note { isPinned pinnedUntil } }
}"""
NOTES = """
query ($ref: String!, $filter: NoteFilter, $first: Int!, $after: String) {
  household(reference: $ref) {
    notes(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id title isPinned pinnedUntil createdAt } }
    }
  }
}"""


async def new_note(
    run: Run, household: str, title: str, body: str = "Texte de la note.", **extra: Any
) -> dict[str, Any]:
    answer = await run(
        CREATE, input={"householdId": household, "title": title, "body": body, **extra}
    )
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    result = answer.data["createNote"]
    assert result["userErrors"] == []
    note: dict[str, Any] = result["note"]
    return note


async def note_list(
    run: Run, filter: dict[str, Any] | None = None, first: int = 100
) -> list[dict[str, Any]]:
    answer = await run(NOTES, ref=FIRST_75_REFERENCE, filter=filter, first=first)
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return [e["node"] for e in answer.data["household"]["notes"]["edges"]]


async def members_of(sql: asyncpg.Connection, reference: str) -> list[str]:
    rows = await sql.fetch(
        "SELECT m.person_id FROM memberships m JOIN households h ON h.id = m.household_id "
        "WHERE h.reference = $1 AND upper_inf(m.validity) ORDER BY m.person_id",
        reference,
    )
    return [gid("Person", r["person_id"]) for r in rows]


async def test_a_note_is_written_with_whom_it_concerns_and_audited(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    member = (await members_of(sql, FIRST_75_REFERENCE))[0]
    note = await new_note(
        as_user(ALPHA),
        household,
        "  Rendez-vous   CAF ",
        "Mardi 10 h.\nApporter l'avis d'imposition.",
        concernedPersonIds=[member, member],
    )
    assert note["title"] == "Rendez-vous CAF"
    assert note["body"] == "Mardi 10 h.\nApporter l'avis d'imposition."
    assert note["version"] == 1
    assert note["isPinned"] is False
    assert note["author"] == {"displayName": "Camille Rousseau"}
    assert [p["id"] for p in note["concernedPersons"]] == [member]
    event = await one_row(
        sql, "SELECT action, changes FROM audit_events WHERE entity_id = $1", raw_id(note["id"])
    )
    assert event["action"] == "CREATE"
    assert json.loads(event["changes"])["title"] == {"before": None, "after": "Rendez-vous CAF"}
    listed = await note_list(as_user(OPERATOR))
    unpinned = [n for n in listed if not n["isPinned"]]
    assert unpinned[0]["id"] == note["id"], "the newest note comes first after the pins"


BAD_NOTES: dict[str, tuple[dict[str, Any], str]] = {
    "blank title": ({"title": "   "}, "INVALID_TITLE"),
    "title on two lines": ({"title": "Rendez-vous\nCAF"}, "INVALID_TITLE"),
    "title over 200 characters": ({"title": "é" * 201}, "INVALID_TITLE"),
    "blank text": ({"body": " \n "}, "INVALID_BODY"),
    "text over 20,000 characters": ({"body": "a" * 20_001}, "INVALID_BODY"),
    "control characters": ({"body": "ok\x01\x1b"}, "INVALID_BODY"),
}


@pytest.mark.parametrize("case", list(BAD_NOTES))
async def test_bad_notes_are_refused_and_nothing_is_written(
    as_user: Viewer, sql: asyncpg.Connection, case: str
) -> None:
    change, code = BAD_NOTES[case]
    household = await household_gid(sql, FIRST_75_REFERENCE)
    before = await snapshot(sql)
    fields = {"householdId": household, "title": "Titre", "body": "Texte.", **change}
    answer = await as_user(ALPHA)(CREATE, input=fields)
    assert answer.data is not None
    result = answer.data["createNote"]
    assert result["note"] is None
    assert [e["code"] for e in result["userErrors"]] == [code]
    assert await snapshot(sql) == before


async def test_notes_only_go_where_they_belong(as_user: Viewer, sql: asyncpg.Connection) -> None:
    before = await snapshot(sql)
    household = await household_gid(sql, FIRST_75_REFERENCE)
    stranger = (await members_of(sql, "7500000002"))[0]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (ALPHA, {"householdId": household, "concernedPersonIds": [stranger]}, "NOT_A_MEMBER"),
        ("sw.beta@demo.siao", {"householdId": household}, "NOT_FOUND"),
        (OPERATOR, {"householdId": await household_gid(sql, "9300000001")}, "NOT_FOUND"),
        (OPERATOR, {"householdId": await household_gid(sql, CLOSED)}, "HOUSEHOLD_CLOSED"),
    ]
    for login, fields, code in cases:
        answer = await as_user(login)(CREATE, input={"title": "T", "body": "B", **fields})
        assert answer.data is not None, answer.errors
        assert [e["code"] for e in answer.data["createNote"]["userErrors"]] == [code], login
    for login in (BENEFICIARY, "manager.chrs@demo.siao", "observer@demo.siao"):
        answer = await as_user(login)(
            CREATE, input={"householdId": household, "title": "T", "body": "B"}
        )
        assert answer.codes == ["FORBIDDEN"], login
    assert await snapshot(sql) == before


async def test_only_the_author_edits_and_a_stale_version_overwrites_nothing(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha, operator = as_user(ALPHA), as_user(OPERATOR)
    note = await new_note(alpha, await household_gid(sql, FIRST_75_REFERENCE), "Point DALO")
    answer = await alpha(
        UPDATE, input={"noteId": note["id"], "expectedVersion": 1, "body": "Recours déposé."}
    )
    assert answer.data is not None
    assert answer.data["updateNote"] == {
        "userErrors": [],
        "note": {"title": "Point DALO", "body": "Recours déposé.", "version": 2},
    }
    event = await one_row(
        sql,
        "SELECT changes FROM audit_events WHERE entity_id = $1 AND action = 'UPDATE'",
        raw_id(note["id"]),
    )
    assert json.loads(event["changes"]) == {
        "body": {"before": "Texte de la note.", "after": "Recours déposé."}
    }

    before = await snapshot(sql)
    stale = await alpha(UPDATE, input={"noteId": note["id"], "expectedVersion": 1, "title": "X"})
    assert stale.data is not None
    errors = stale.data["updateNote"]["userErrors"]
    assert [(e["code"], e["currentVersion"]) for e in errors] == [("STALE_VERSION", 2)]
    other = await operator(UPDATE, input={"noteId": note["id"], "expectedVersion": 2, "title": "X"})
    assert other.data is not None
    assert [e["code"] for e in other.data["updateNote"]["userErrors"]] == ["NOT_AUTHOR"]
    not_theirs = await operator(DELETE, input={"noteId": note["id"]})
    assert not_theirs.data is not None
    assert [e["code"] for e in not_theirs.data["deleteNote"]["userErrors"]] == ["NOT_AUTHOR"]
    assert await snapshot(sql) == before


async def test_a_deleted_note_disappears_but_stays_in_the_database_and_the_change_log(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    note = await new_note(alpha, await household_gid(sql, FIRST_75_REFERENCE), "Brouillon")
    count_before = len(await note_list(alpha))
    answer = await alpha(DELETE, input={"noteId": note["id"], "expectedVersion": 1})
    assert answer.data is not None
    assert answer.data["deleteNote"] == {"userErrors": [], "deletedNoteId": note["id"]}
    assert note["id"] not in [n["id"] for n in await note_list(alpha)]
    assert len(await note_list(alpha)) == count_before - 1
    hidden = await alpha("query ($id: ID!) { node(id: $id) { id } }", id=note["id"])
    assert hidden.data == {"node": None}
    row = await one_row(
        sql, "SELECT title, deleted_at, deleted_by FROM notes WHERE id = $1", raw_id(note["id"])
    )
    assert row["title"] == "Brouillon"
    assert row["deleted_at"] is not None
    assert row["deleted_by"] is not None
    actions = [
        r["action"]
        for r in await sql.fetch(
            "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY at",
            raw_id(note["id"]),
        )
    ]
    assert actions == ["CREATE", "DELETE"]
    again = await alpha(UPDATE, input={"noteId": note["id"], "expectedVersion": 1, "body": "x"})
    assert again.data is not None
    assert [e["code"] for e in again.data["updateNote"]["userErrors"]] == ["NOT_FOUND"]


async def test_a_pin_puts_a_note_first_until_its_date_then_it_falls_back_by_itself(
    as_user: Viewer, sql: asyncpg.Connection, clock: MovableClock
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    alpha, operator = as_user(ALPHA), as_user(OPERATOR)
    older = await new_note(alpha, household, "Appel du 115")
    newer = await new_note(alpha, household, "Visite à domicile")
    until = clock.now + timedelta(hours=1)
    pinned = await operator(PIN, input={"noteId": older["id"], "until": until.isoformat()})
    assert pinned.data is not None
    assert pinned.data["pinNote"]["userErrors"] == []
    assert pinned.data["pinNote"]["note"]["isPinned"] is True

    def order(notes: list[dict[str, Any]]) -> list[str]:
        return [n["id"] for n in notes if n["id"] in (older["id"], newer["id"])]

    listed = await note_list(alpha)
    assert order(listed) == [older["id"], newer["id"]]
    flags = [n["isPinned"] for n in listed]
    assert flags == sorted(flags, reverse=True), "the pinned notes come first"
    assert next(n for n in listed if n["id"] == older["id"])["isPinned"] is True
    assert older["id"] in [n["id"] for n in await note_list(alpha, {"pinned": True})]
    assert older["id"] not in [n["id"] for n in await note_list(alpha, {"pinned": False})]

    clock.advance(timedelta(hours=2))  # the pin's date has passed: nothing else happens
    listed = await note_list(alpha)
    assert order(listed) == [newer["id"], older["id"]]
    fallen = next(n for n in listed if n["id"] == older["id"])
    assert fallen["isPinned"] is False
    assert fallen["pinnedUntil"] is not None, "the date stays, it just counts no more"
    assert older["id"] not in [n["id"] for n in await note_list(alpha, {"pinned": True})]
    assert older["id"] in [n["id"] for n in await note_list(alpha, {"pinned": False})]


async def test_pins_are_checked_against_the_clock_and_unpinning_is_audited(
    as_user: Viewer, sql: asyncpg.Connection, clock: MovableClock
) -> None:
    operator = as_user(OPERATOR)
    note = await new_note(operator, await household_gid(sql, FIRST_75_REFERENCE), "À relire")
    before = await snapshot(sql)
    for until in (clock.now - timedelta(minutes=1), clock.now + timedelta(days=400)):
        answer = await operator(PIN, input={"noteId": note["id"], "until": until.isoformat()})
        assert answer.data is not None
        errors = answer.data["pinNote"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_PIN_DATE", ["until"])]
    assert await snapshot(sql) == before
    until = clock.now + timedelta(days=7)
    await operator(PIN, input={"noteId": note["id"], "until": until.isoformat()})
    answer = await operator(UNPIN, input={"noteId": note["id"]})
    assert answer.data is not None
    assert answer.data["unpinNote"] == {
        "userErrors": [],
        "note": {"isPinned": False, "pinnedUntil": None},
    }
    rows = await sql.fetch(
        "SELECT action, changes FROM audit_events WHERE entity_id = $1 ORDER BY at",
        raw_id(note["id"]),
    )
    assert [r["action"] for r in rows] == ["CREATE", "PIN", "UNPIN"]
    assert json.loads(rows[2]["changes"])["pinnedUntil"]["after"] is None
    version = await sql.fetchval("SELECT version FROM notes WHERE id = $1", raw_id(note["id"]))
    assert version == 1, "pinning is not an edit of the text"


async def test_search_in_french_ignores_accents_and_word_endings(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    household = await household_gid(sql, FIRST_75_REFERENCE)
    found = await new_note(
        alpha,
        household,
        "Hébergements possibles",
        "Madame a été expulsée en janvier ; hébergée chez sa sœur depuis.",
    )
    other = await new_note(alpha, household, "Rendez-vous", "Expulsion évitée de justesse.")

    async def search(text: str) -> set[str]:
        ids = {n["id"] for n in await note_list(alpha, {"text": text})}
        return ids & {found["id"], other["id"]}

    assert await search("hebergement") == {found["id"]}
    assert await search("HÉBERGÉE") == {found["id"]}
    assert await search("expulsions") == {found["id"], other["id"]}
    assert await search("expulsion -soeur") == {other["id"]}
    assert await search('"chez sa soeur"') == {found["id"]}
    assert await search("caf") == set()


async def test_notes_filter_by_member_and_author(as_user: Viewer, sql: asyncpg.Connection) -> None:
    alpha, operator = as_user(ALPHA), as_user(OPERATOR)
    household = await household_gid(sql, FIRST_75_REFERENCE)
    member = (await members_of(sql, FIRST_75_REFERENCE))[-1]
    about = await new_note(operator, household, "Sur un membre", concernedPersonIds=[member])
    mine = await new_note(alpha, household, "De Camille")
    me = await operator("{ me { id } }")
    assert me.data is not None
    by_operator = {n["id"] for n in await note_list(alpha, {"author": me.data["me"]["id"]})}
    assert about["id"] in by_operator
    assert mine["id"] not in by_operator
    by_member = {n["id"] for n in await note_list(alpha, {"member": member})}
    assert about["id"] in by_member
    assert mine["id"] not in by_member
    both = await note_list(
        alpha, {"member": member, "author": me.data["me"]["id"], "text": "membre"}
    )
    assert [n["id"] for n in both] == [about["id"]]


async def test_pages_of_notes_cross_the_pins_without_loss_or_repeat(
    as_user: Viewer, sql: asyncpg.Connection, clock: MovableClock
) -> None:
    household = await household_gid(sql, FIRST_75_REFERENCE)
    alpha = as_user(ALPHA)
    created = [await new_note(alpha, household, f"Note {i}") for i in range(4)]
    until = (clock.now + timedelta(days=1)).isoformat()
    await alpha(PIN, input={"noteId": created[1]["id"], "until": until})
    everything = await note_list(alpha)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await alpha(NOTES, ref=FIRST_75_REFERENCE, filter=None, first=2, after=after)
        assert answer.errors == []
        assert answer.data is not None
        page = answer.data["household"]["notes"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["id"] for n in seen] == [n["id"] for n in everything]
    assert page["totalCount"] == len(seen)
    flags = [n["isPinned"] for n in seen]
    assert flags == sorted(flags, reverse=True), "pins first"
    for group in (True, False):
        times = [n["createdAt"] for n in seen if n["isPinned"] is group]
        assert times == sorted(times, reverse=True), "then newest first"


CHANGE_LOG = """
query ($ref: String!) {
  household(reference: $ref) {
    auditEvents(first: 100) { edges { node { entityId action changes } } }
  }
}"""


async def test_the_change_log_masks_notes_for_the_household_but_not_for_professionals(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    note = await new_note(
        as_user(ALPHA), await household_gid(sql, FIRST_75_REFERENCE), "Confidentiel", "Secret."
    )

    async def events_seen_by(login: str) -> list[dict[str, Any]]:
        answer = await as_user(login)(CHANGE_LOG, ref=FIRST_75_REFERENCE)
        assert answer.errors == []
        assert answer.data is not None
        edges = answer.data["household"]["auditEvents"]["edges"]
        return [e["node"] for e in edges if e["node"]["entityId"] == note["id"]]

    async def changes_seen_by(login: str) -> dict[str, Any]:
        (event,) = await events_seen_by(login)
        changes: dict[str, Any] = event["changes"]
        return changes

    # the household does not read its professionals' notes, nor that one was written
    own = await events_seen_by(BENEFICIARY)
    assert own == []
    assert "Secret" not in json.dumps(own)
    logged = "SELECT count(*) FROM access_events WHERE category = 'NOTES'"
    before = await sql.fetchval(logged)
    professional = await changes_seen_by(OPERATOR)
    assert professional["body"] == {"before": None, "after": "Secret."}
    assert await sql.fetchval(logged) == before + 1, "reading notes in the log is an access"


async def test_the_household_itself_may_not_read_its_notes(as_user: Viewer) -> None:
    answer = await as_user(BENEFICIARY)(NOTES, ref=FIRST_75_REFERENCE, first=5)
    assert answer.codes == ["FORBIDDEN"]
    assert answer.data == {"household": {"notes": None}}


NOTE_LIST = """
query ($first: Int!, $pinned: Boolean) {
  households(first: $first) {
    edges { node {
      reference
      notes(first: 3) {
        totalCount
        edges { node { title isPinned author { displayName } concernedPersons { firstName } } }
      }
      pinned: notes(first: 2, filter: {pinned: $pinned}) { totalCount edges { node { title } } }
      search: notes(first: 2, filter: {text: "rendez-vous"}) { edges { node { title } } }
    } }
  }
}"""


async def test_notes_of_a_list_cost_the_same_for_5_and_40_households(
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
    small = await alpha(NOTE_LIST, first=5, pinned=True)
    large = await alpha(NOTE_LIST, first=40, pinned=True)
    assert small.errors == large.errors == []
    assert large.data is not None
    assert any(e["node"]["pinned"]["totalCount"] for e in large.data["households"]["edges"])
    assert small.extensions["sql"]["statements"] == large.extensions["sql"]["statements"]
    assert waits == []
