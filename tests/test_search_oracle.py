"""No oracle through the search's cost (issue #11): a name borne only where the viewer may
not search (another territory, a protected household they do not accompany) answers
exactly like a name borne by nobody, with as many SQL statements; so do the duplicate
warnings. The dictionary of name words holds the words of the persons each territory's
searchers may find, and no other, whatever happens to those persons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from tests.conftest import Answer, Run

Viewer = Callable[[str | None], Run]
ALPHA = "sw.alpha@demo.siao"  # accompanies 7500000001-40, among them protected 7500000003
BETA = "sw.beta@demo.siao"  # accompanies none of those
OPERATOR = "siao.75@demo.siao"
OPERATOR_93 = "siao.93@demo.siao"
PROTECTED_BY_ALPHA = "7500000003"

# The hidden person's names, and names of the same shape that nobody bears.
HIDDEN = ("Zébulonne", "Quenouillardet")
NOBODY = ("Zéphyrine", "Grenouillabert")
BIRTH_DATE = "1984-05-06"

SEARCH = """
query ($q: String!) {
  searchPersons(query: $q, first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      firstName lastName usageName birthDate sex householdReference
      accompanyingOrganisations score
    } }
  }
}"""
CREATE = """
mutation ($input: CreateHouseholdInput!) {
  createHousehold(input: $input) {
    userErrors { code message }
    household { id reference version members { person { id version } } }
    warnings { message candidates { firstName lastName birthDate householdReference } }
  }
}"""
PROTECT = """
mutation ($input: UpdateHouseholdSituationInput!) {
  updateHouseholdSituation(input: $input) { userErrors { code message } version }
}"""
UPDATE_PERSON = """
mutation ($input: UpdatePersonInput!) {
  updatePerson(input: $input) { userErrors { code message } person { version } }
}"""
MOVE = """
mutation ($input: MoveHouseholdMemberInput!) {
  moveHouseholdMember(input: $input) { userErrors { code message } household { reference } }
}"""
HOUSEHOLD = """
query ($ref: String!) { household(reference: $ref) { id version } }"""

# Every (territory, word) a searcher of the territory may find in an unprotected
# household, against the dictionary: both differences must be empty.
MISSING_WORDS = """
    SELECT count(*) FROM (
      SELECT h.territory_code, w FROM persons p
      JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
      JOIN households h ON h.id = m.household_id AND NOT h.protected,
      unnest(p.name_words) AS w WHERE w <> ''
      EXCEPT SELECT territory_code, word FROM name_words) AS missing
"""
EXTRA_WORDS = """
    SELECT count(*) FROM (
      SELECT territory_code, word FROM name_words
      EXCEPT SELECT h.territory_code, w FROM persons p
      JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
      JOIN households h ON h.id = m.household_id AND NOT h.protected,
      unnest(p.name_words) AS w) AS extra
"""


def ok(answer: Answer, field: str) -> Any:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    payload = answer.data[field]
    if isinstance(payload, dict) and "userErrors" in payload:
        assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def typings(first: str, last: str) -> list[str]:
    """How the name may be typed: as is, in the other order without accents, with a slip."""
    plain = {"é": "e"}
    bare = "".join(plain.get(c, c) for c in f"{last} {first}").lower()
    return [f"{first} {last}", bare, f"{first} {last[:4]}{last[5:]}"]


async def create(run: Run, territory: str, first: str, last: str) -> dict[str, Any]:
    payload = ok(
        await run(
            CREATE,
            input={
                "territory": territory,
                "members": [
                    {
                        "firstName": first,
                        "lastName": last,
                        "relationship": "REFERENCE_PERSON",
                        "birthDate": BIRTH_DATE,
                    }
                ],
            },
        ),
        "createHousehold",
    )
    return dict(payload)


async def protect(run: Run, household_id: str) -> None:
    patch = {"violence": {"victim": True, "protected": True}}
    ok(
        await run(
            PROTECT, input={"householdId": household_id, "expectedVersion": 0, "patch": patch}
        ),
        "updateHouseholdSituation",
    )


def found(answer: Answer) -> list[tuple[str, str]]:
    page = ok(answer, "searchPersons")
    return [(e["node"]["firstName"], e["node"]["lastName"]) for e in page["edges"]]


async def answers(run: Run) -> list[tuple[Any, int]]:
    """The answer to the hidden person's name, however typed, and its SQL statements."""
    seen = []
    for typed in typings(*HIDDEN):
        answer = await run(SEARCH, q=typed)
        assert answer.errors == [], answer.errors
        seen.append((answer.data, answer.extensions["sql"]["statements"]))
    return seen


NOTHING = {
    "searchPersons": {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
}


async def test_a_name_borne_only_in_another_territory_answers_as_when_nobody_bore_it(
    as_user: Viewer,
) -> None:
    operator, beta = as_user(OPERATOR), as_user(BETA)
    nobody = {OPERATOR: await answers(operator), BETA: await answers(beta)}
    assert all(data == NOTHING for data, _ in nobody[OPERATOR] + nobody[BETA])
    await create(as_user(OPERATOR_93), "93", *HIDDEN)
    # Those who may search 93 find her, however her name is typed...
    for typed in typings(*HIDDEN):
        assert found(await as_user(OPERATOR_93)(SEARCH, q=typed))[0] == HIDDEN, typed
    # ...in 75 her name answers, and costs, what it did when nobody bore it.
    assert await answers(operator) == nobody[OPERATOR]
    assert await answers(beta) == nobody[BETA]


async def test_a_name_borne_only_in_a_protected_household_answers_outsiders_as_if_nobody_bore_it(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha, beta, operator = as_user(ALPHA), as_user(BETA), as_user(OPERATOR)
    nobody = {BETA: await answers(beta), OPERATOR: await answers(operator)}
    household = await create(alpha, "75", *HIDDEN)
    assert found(await beta(SEARCH, q=typings(*HIDDEN)[0]))[0] == HIDDEN
    await protect(alpha, household["household"]["id"])
    # Alpha accompanies the household: the words of its members are among Alpha's.
    for typed in typings(*HIDDEN):
        assert found(await alpha(SEARCH, q=typed))[0] == HIDDEN, typed
    assert await answers(beta) == nobody[BETA]
    assert await answers(operator) == nobody[OPERATOR]
    # Nobody else bears her names: they left the dictionary of 75 with the protection.
    words = await sql.fetch(
        "SELECT territory_code, word FROM name_words WHERE word IN ('zebulonne', 'quenouillardet')"
    )
    assert words == []


async def test_a_word_comes_back_when_the_household_is_no_longer_protected(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    alpha = as_user(ALPHA)
    household = await create(alpha, "75", *HIDDEN)
    await protect(alpha, household["household"]["id"])
    unprotect = {"violence": {"victim": True, "protected": False}}
    ok(
        await alpha(
            PROTECT,
            input={
                "householdId": household["household"]["id"],
                "expectedVersion": 1,
                "patch": unprotect,
            },
        ),
        "updateHouseholdSituation",
    )
    assert found(await as_user(BETA)(SEARCH, q=typings(*HIDDEN)[2]))[0] == HIDDEN
    words = await sql.fetch(
        "SELECT territory_code, word FROM name_words WHERE word IN ('zebulonne', 'quenouillardet') "
        "ORDER BY word"
    )
    assert [tuple(w) for w in words] == [("75", "quenouillardet"), ("75", "zebulonne")]


async def test_the_dictionary_follows_new_renamed_and_moving_persons(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """Each territory's dictionary holds exactly the words of its searchable persons."""

    async def territories(word: str) -> list[str]:
        rows = await sql.fetch(
            "SELECT territory_code FROM name_words WHERE word = $1 ORDER BY 1", word
        )
        return [r["territory_code"] for r in rows]

    alpha = as_user(ALPHA)
    created = await create(alpha, "75", *HIDDEN)
    await create(as_user(OPERATOR_93), "93", *HIDDEN)
    assert await territories("quenouillardet") == ["75", "93"]
    person = created["household"]["members"][0]["person"]
    renamed = ok(
        await alpha(
            UPDATE_PERSON,
            input={
                "personId": person["id"],
                "expectedVersion": person["version"],
                "lastName": "Tirelipompon",
                "usageName": "Zébulonnet",
            },
        ),
        "updatePerson",
    )
    assert renamed["person"]["version"] == person["version"] + 1
    assert await territories("quenouillardet") == ["93"]
    assert await territories("tirelipompon") == ["75"]
    assert await territories("zebulonnet") == ["75"]
    assert await territories("zebulonne") == ["75", "93"]
    # She moves into a protected household (Alpha's): her words leave 75's dictionary.
    target = ok(await alpha(HOUSEHOLD, ref=PROTECTED_BY_ALPHA), "household")
    moved = ok(
        await alpha(
            MOVE,
            input={
                "personId": person["id"],
                "toHouseholdId": target["id"],
                "expectedVersion": target["version"],
            },
        ),
        "moveHouseholdMember",
    )
    assert moved["household"]["reference"] == PROTECTED_BY_ALPHA
    assert await territories("tirelipompon") == []
    assert await territories("zebulonnet") == []
    assert await territories("zebulonne") == ["93"]
    # Alpha still finds her, by the words of the protected households Alpha accompanies.
    assert found(await alpha(SEARCH, q="zebulonne tirelipompon"))[0] == (
        "Zébulonne",
        "Tirelipompon",
    )
    # Everything else too: no word missing, none left over.
    assert await sql.fetchval(MISSING_WORDS) == 0
    assert await sql.fetchval(EXTRA_WORDS) == 0


@pytest.mark.parametrize("where", ["another territory", "a protected household"])
async def test_a_likely_duplicate_the_viewer_may_not_search_is_not_told(
    as_user: Viewer, where: str
) -> None:
    """Recording a person whose likely duplicate (same birth date, same names) lives where
    the recorder may not search answers like recording someone nobody resembles."""
    protected = None
    if where == "another territory":
        await create(as_user(OPERATOR_93), "93", *HIDDEN)
    else:
        household = await create(as_user(ALPHA), "75", *HIDDEN)
        protected = household["household"]
        await protect(as_user(ALPHA), protected["id"])
    beta = as_user(BETA)
    duplicate = await beta(CREATE, input=_household(*HIDDEN))
    unlike = await beta(CREATE, input=_household(*NOBODY))
    assert ok(duplicate, "createHousehold")["warnings"] == []
    assert ok(unlike, "createHousehold")["warnings"] == []
    assert duplicate.extensions["sql"]["statements"] == unlike.extensions["sql"]["statements"]
    if protected is not None:
        # Alpha, who accompanies her household, is told (and of Bêta's new one).
        told = await create(as_user(ALPHA), "75", *HIDDEN)
        candidates = told["warnings"][0]["candidates"]
        assert protected["reference"] in [c["householdReference"] for c in candidates]


def _household(first: str, last: str) -> dict[str, Any]:
    member = {
        "firstName": first,
        "lastName": last,
        "relationship": "REFERENCE_PERSON",
        "birthDate": BIRTH_DATE,
    }
    return {"territory": "75", "members": [member]}
