"""Finding people fast: accents, case, typos, name order, compound names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from models.person import CLOSE_WORD
from resolvers.search import CLOSE_MOST, CLOSE_WORDS
from tests.conftest import Answer, Run

Viewer = Callable[[str | None], Run]

SEARCH = """
query ($q: String!, $birthDate: Date, $first: Int = 20, $after: String) {
  searchPersons(query: $q, birthDate: $birthDate, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { firstName lastName usageName birthDate householdReference score } }
  }
}"""


def names(answer: Answer) -> list[tuple[str, str]]:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    return [
        (e["node"]["firstName"], e["node"]["lastName"])
        for e in answer.data["searchPersons"]["edges"]
    ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("laurant dupond", ("Laurent", "Dupont")),
        ("DUPONT Laurent", ("Laurent", "Dupont")),
        ("helene ndiaye", ("Hélène", "N'Diaye")),
        ("ndiaye helene", ("Hélène", "N'Diaye")),
        ("jean pierre", ("Jean-Pierre", None)),
        ("martin-dubois", (None, "Martin-Dubois")),
    ],
)
async def test_half_heard_names_find_the_right_person(
    as_user: Viewer, typed: str, expected: tuple[str | None, str | None]
) -> None:
    found = names(await as_user("siao.75@demo.siao")(SEARCH, q=typed))
    assert any(
        (expected[0] is None or first == expected[0])
        and (expected[1] is None or last == expected[1])
        for first, last in found[:5]
    ), (typed, found[:5])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # "bxwq" (a slip, a word misheard) is close to no known name word, but the whole
        # name is close enough: the full-name similarity finds her when the word search
        # finds nobody.
        ("ndiaye helene bxwq", ("Hélène", "N'Diaye")),
        ("de la laurent dupont", ("Laurent", "Dupont")),  # particles are not required
    ],
)
async def test_a_word_close_to_no_known_word_does_not_lose_the_person(
    as_user: Viewer, sql: asyncpg.Connection, typed: str, expected: tuple[str, str]
) -> None:
    found = names(await as_user("siao.75@demo.siao")(SEARCH, q=typed))
    assert expected in found[:5], (typed, found[:5])


async def test_a_word_keeps_its_closest_known_words_only(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """The word "lauren" is at a trigram similarity of 0.3 or more from any long name starting with
    "lauren": the search keeps the CLOSE_MOST closest of those, and finds Laurent."""
    longer = [f"lauren{a}{b}ez" for a in "bcdfgjklmnprstv" for b in "aeiou"]
    await sql.execute(
        "INSERT INTO name_words (territory_code, word) SELECT '75', unnest($1::text[])", longer
    )
    await sql.execute(f"SET pg_trgm.similarity_threshold = {CLOSE_WORD}")
    statement = (
        CLOSE_WORDS.text.replace(":query", "$1").replace(":most", "$2").replace(":territory", "$3")
    )
    ((typed, close),) = await sql.fetch(statement, "lauren", CLOSE_MOST, "75")
    assert typed == "lauren"
    assert "laurent" in close  # one slip away (and the most similar)
    assert 0 < sum(1 for word in longer if word in close) <= CLOSE_MOST < len(longer)
    found = names(await as_user("siao.75@demo.siao")(SEARCH, q="lauren dupont"))
    assert found[0] == ("Laurent", "Dupont"), found[:3]


async def test_homonyms_are_told_apart_by_birth_date(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    dates = await sql.fetch(
        "SELECT p.birth_date, h.reference FROM persons p "
        "JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity) "
        "JOIN households h ON h.id = m.household_id "
        "WHERE p.first_name = 'Laurent' AND p.last_name = 'Dupont' AND h.territory_code = '75'"
    )
    assert len(dates) >= 2, "the demo has homonyms in 75"
    wanted = dates[1]
    answer = await as_user("siao.75@demo.siao")(
        SEARCH, q="laurent dupont", birthDate=wanted["birth_date"].isoformat()
    )
    assert answer.data is not None
    top = answer.data["searchPersons"]["edges"][0]["node"]
    assert (top["householdReference"], top["birthDate"]) == (
        wanted["reference"],
        wanted["birth_date"].isoformat(),
    )
    scores = [e["node"]["score"] for e in answer.data["searchPersons"]["edges"]]
    assert scores == sorted(scores, reverse=True)


async def test_results_page_forward_without_repeats(as_user: Viewer) -> None:
    run = as_user("siao.75@demo.siao")
    seen: list[Any] = []
    after = None
    for _ in range(50):
        answer = await run(SEARCH, q="martin", first=5, after=after)
        assert answer.data is not None
        page = answer.data["searchPersons"]
        seen += [tuple(e["node"].values()) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"] > 5


async def test_the_count_stops_past_the_cap_and_paging_goes_on(
    as_user: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting every weak match of a common name among a million persons costs as much as
    the page: `totalCount` stops at the cap + 1 (here a cap of 3), the pages do not."""
    run = as_user("siao.75@demo.siao")
    full = await run(SEARCH, q="martin", first=100)
    assert full.data is not None
    everything = len(full.data["searchPersons"]["edges"])
    assert everything > 4
    monkeypatch.setattr("resolvers.search.COUNT_CAP", 3)
    capped = await run(SEARCH, q="martin", first=100)
    assert capped.data is not None
    assert capped.data["searchPersons"]["totalCount"] == 4
    assert len(capped.data["searchPersons"]["edges"]) == everything


@pytest.mark.parametrize("query", ["", "   "])
async def test_an_empty_search_is_a_clear_error(as_user: Viewer, query: str) -> None:
    answer = await as_user("siao.75@demo.siao")(SEARCH, q=query)
    assert answer.codes == ["BAD_USER_INPUT"]


CREATE_WITH_WARNINGS = """
mutation ($input: CreateHouseholdInput!) {
  createHousehold(input: $input) {
    userErrors { code }
    household { members { person { id duplicateCandidates { householdReference } } } }
    warnings { personId message candidates { firstName lastName birthDate householdReference } }
  }
}"""


async def test_recording_a_likely_duplicate_warns_without_refusing(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    existing = await sql.fetchrow(
        "SELECT p.first_name, p.last_name, p.birth_date, h.reference FROM persons p "
        "JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity) "
        "JOIN households h ON h.id = m.household_id "
        "WHERE p.first_name = 'Hélène' AND p.last_name = 'N''Diaye' AND h.territory_code = '75'"
    )
    assert existing is not None
    answer = await as_user("siao.75@demo.siao")(
        CREATE_WITH_WARNINGS,
        input={
            "territory": "75",
            "members": [
                {
                    "firstName": "Helene",
                    "lastName": "NDIAYE",
                    "relationship": "REFERENCE_PERSON",
                    "birthDate": existing["birth_date"].isoformat(),
                },
                {
                    "firstName": "Zoé",
                    "lastName": "Nouvelle",
                    "relationship": "CHILD",
                    "birthDate": "2019-01-01",
                },
            ],
        },
    )
    assert answer.errors == []
    assert answer.data is not None
    payload = answer.data["createHousehold"]
    assert payload["userErrors"] == []
    assert len(payload["warnings"]) == 1
    candidates = payload["warnings"][0]["candidates"]
    assert {
        "firstName": "Hélène",
        "lastName": "N'Diaye",
        "birthDate": existing["birth_date"].isoformat(),
        "householdReference": existing["reference"],
    } in candidates
    members = payload["household"]["members"]
    assert existing["reference"] in [
        c["householdReference"] for c in members[0]["person"]["duplicateCandidates"]
    ]
    assert members[1]["person"]["duplicateCandidates"] == []


async def test_the_same_birth_date_with_other_names_is_no_duplicate(as_user: Viewer) -> None:
    answer = await as_user("siao.75@demo.siao")(
        CREATE_WITH_WARNINGS,
        input={
            "territory": "75",
            "members": [
                {
                    "firstName": "Xavier",
                    "lastName": "Quenouille",
                    "relationship": "REFERENCE_PERSON",
                    "birthDate": "1980-01-01",
                }
            ],
        },
    )
    assert answer.data is not None
    assert answer.data["createHousehold"]["warnings"] == []


async def test_searches_wait_for_a_search_slot_and_other_requests_do_not(
    as_user: Viewer, app: Starlette
) -> None:
    """The bulkhead: a search runs its statements in one of the process's search slots
    (`SIAO_SEARCH_CONCURRENCY`, 1 by default); with every slot taken it waits, while a
    request that is not a search goes through."""
    slots: asyncio.Semaphore = app.state.search_slots
    run = as_user("siao.75@demo.siao")
    async with slots:  # every slot taken (there is one)
        search = asyncio.ensure_future(run(SEARCH, q="laurent dupont"))
        for _ in range(10_000):  # until the search is queued at the slot
            if search.done() or getattr(slots, "_waiters", None):
                break
            await asyncio.sleep(0)
        assert not search.done(), "the search ran without a slot"
        other = await run("query { me { displayName } }")
        assert other.errors == []
        assert not search.done()
    answer = await search
    assert answer.errors == []
    assert names(answer)[0] == ("Laurent", "Dupont")
