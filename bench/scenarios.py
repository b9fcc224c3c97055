"""The scenarios of `siao bench run`: the GraphQL documents that the front end sends, the
data they are sent about (drawn from the database once, before the load), and the check
of each answer.

- record: one tab of the household record ("fiche ménage"), header included, for an
  open household of the viewer's territory drawn at random; the tab is drawn too.
- queue: the SIAO work queue, first page of 20, most urgent first.
- search: `searchPersons` as a 115 operator types a name heard on the phone: a person of
  the viewer's territory drawn at random, accents dropped, first and last name swapped
  one time in two, one typo in a name of four letters or more.
- create-demand: `createDemand` (emergency, tonight, every current member) for an open
  household of the viewer's territory drawn at random; an answer with `userErrors` is an
  error.

The record tabs, the work queue and `createDemand` are the documents of
tests/test_record.py, tests/test_lifecycle.py and tests/test_mutations.py, which check
what they answer and cost (tests/test_bench_run.py checks that they stay the same); the
search adds to tests/test_search.py's document what the screen shows (whom to call).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from auth.policy import ROLE_RELATIONSHIP, Access, Category, Role, allowed
from bench.traffic import Request
from schema.node import encode_id

SCENARIOS = ("record", "queue", "search", "create-demand")
SAMPLE = 1000  # households or persons drawn per scenario

# The record screen's tabs: the documents of examples/household-record/ (the docs show
# them, tests/test_examples.py runs them), read from there so that the bench measures
# exactly what the docs and the screen send.
RECORD_EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "household-record"
TAB_FILES = {
    "Ménage": "01-menage.graphql",
    "Identité": "02-identite.graphql",
    "Situation du ménage": "03-situation.graphql",
    "Évaluations": "04-evaluations.graphql",
    "Notes": "05-notes.graphql",
    "Suivi des modifications": "06-suivi-des-modifications.graphql",
}
TABS: dict[str, str] = {
    tab: (RECORD_EXAMPLES / name).read_text(encoding="utf-8") for tab, name in TAB_FILES.items()
}
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
SEARCH = """
query SearchPersons($q: String!, $first: Int!) {
  searchPersons(query: $q, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      firstName lastName usageName birthDate sex householdReference accompanyingOrganisations
      score
    } }
  }
}"""
CREATE_DEMAND = """
mutation ($input: CreateDemandInput!) {
  createDemand(input: $input) {
    userErrors { code message field }
    demand { id kind status concernedPersons { id } household { reference } }
  }
}"""
QUEUE_PAGE = 20
SEARCH_PAGE = 20


@dataclass
class Tally:
    """Counts over every answer of a scenario (warm-up and floor included): answers
    that passed their check, and for the search those that listed the person sought."""

    ok: int = 0
    found: int = 0
    searched: int = 0

    @property
    def found_percent(self) -> float | None:
        return round(100 * self.found / self.searched, 1) if self.searched else None


@dataclass
class Scenario:
    """A scenario ready to play: `next_request()` draws the next request."""

    name: str
    next_request: Callable[[], Request]
    documents: list[str]  # the labels of what it sends (one per record tab)
    tally: Tally = field(default_factory=Tally)


def plain(name: str) -> str:
    """Lower case, accents dropped: what an operator types."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def typo(word: str, rng: random.Random) -> str:
    """One slip of the fingers, never on the first letter: a letter replaced, dropped,
    doubled, or two letters swapped."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + rng.choice([c for c in "aeioulnrst" if c != word[i]]) + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    if kind == 3 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def mangle(first: str, last: str, rng: random.Random) -> str:
    """A name as heard and typed: accents dropped, the order swapped one time in two, one
    typo in one of the names that has four letters or more."""
    names = [plain(first), plain(last)]
    if rng.random() < 0.5:
        names.reverse()
    long = [i for i, n in enumerate(names) if len(n) >= 4]
    if long:
        i = rng.choice(long)
        names[i] = typo(names[i], rng)
    return " ".join(names)


def _body(query: str, variables: dict[str, Any]) -> bytes:
    return orjson.dumps({"query": query, "variables": variables})


def _record(
    references: list[str], rng: random.Random, tally: Tally, viewer: BenchViewer
) -> Scenario:
    tabs = list(TABS)
    # As the screen does: the medico-social section only for who may read HEALTH.
    extra = {"Situation du ménage": {"health": viewer.may_read(Category.HEALTH)}}

    def check(data: Any) -> str | None:
        household = data.get("household")
        if household is None:
            return "household not found"
        if household["summary"]["memberCount"] < 1:
            return "household without members"
        tally.ok += 1
        return None

    def next_request() -> Request:
        tab = rng.choice(tabs)
        variables = {"ref": rng.choice(references), **extra.get(tab, {})}
        return _body(TABS[tab], variables), check, tab

    return Scenario("record", next_request, tabs, tally)


def _queue(tally: Tally) -> Scenario:
    body = _body(QUEUE, {"first": QUEUE_PAGE})

    def check(data: Any) -> str | None:
        if data.get("demands") is None:
            return "no work queue"
        tally.ok += 1
        return None

    return Scenario("queue", lambda: (body, check, "queue"), ["queue"], tally)


def _search(persons: list[tuple[str, str]], rng: random.Random, tally: Tally) -> Scenario:
    def next_request() -> Request:
        first, last = rng.choice(persons)

        def check(data: Any) -> str | None:
            tally.ok += 1
            tally.searched += 1
            edges = data["searchPersons"]["edges"]
            if any(
                e["node"]["firstName"] == first and e["node"]["lastName"] == last for e in edges
            ):
                tally.found += 1
            return None

        query = mangle(first, last, rng)
        return _body(SEARCH, {"q": query, "first": SEARCH_PAGE}), check, "search"

    return Scenario("search", next_request, ["search"], tally)


def _create_demand(households: list[str], rng: random.Random, tally: Tally) -> Scenario:
    def check(data: Any) -> str | None:
        payload = data["createDemand"]
        if payload["userErrors"]:
            codes = ", ".join(e["code"] for e in payload["userErrors"])
            return f"userErrors: {codes}"
        if payload["demand"] is None or not payload["demand"]["concernedPersons"]:
            return "no demand, or a demand that concerns nobody"
        tally.ok += 1
        return None

    def next_request() -> Request:
        household = rng.choice(households)
        variables = {"input": {"householdId": household, "kind": "EMERGENCY", "priority": 2}}
        return _body(CREATE_DEMAND, variables), check, "createDemand"

    return Scenario("create-demand", next_request, ["createDemand"], tally)


@dataclass(frozen=True)
class BenchViewer:
    """The viewer the scenarios play as: its territory and what it may read."""

    territory: str
    role: Role

    def may_read(self, category: Category) -> bool:
        return allowed(category, ROLE_RELATIONSHIP[self.role], Access.READ)


async def viewer_of(conn: asyncpg.Connection[asyncpg.Record], login: str) -> BenchViewer:
    row = await conn.fetchrow("SELECT territory_code, role FROM users WHERE login = $1", login)
    if row is None or row["territory_code"] is None:
        raise RuntimeError(f"no user {login} with a territory: is the demo data loaded?")
    return BenchViewer(str(row["territory_code"]), Role(row["role"]))


async def prepare(
    conn: asyncpg.Connection[asyncpg.Record], name: str, viewer: BenchViewer, seed: int
) -> Scenario:
    """The scenario `name`, with its data drawn from the database (the same draw for the
    same data and seed)."""
    rng = random.Random(f"siao-bench-run:{name}:{seed}")
    tally = Tally()
    territory = viewer.territory
    order = f"md5(h.id::text || '{seed}')"  # a stable draw that needs no sort key
    if name == "queue":
        return _queue(tally)
    if name == "record":
        rows = await conn.fetch(
            f"SELECT h.reference FROM households h WHERE h.territory_code = $1 "
            f"AND h.closed_at IS NULL ORDER BY {order} LIMIT $2",
            territory,
            SAMPLE,
        )
        return _record(_need(rows, name), rng, tally, viewer)
    if name == "search":
        rows = await conn.fetch(
            "SELECT p.first_name, p.last_name FROM persons p "
            "JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity) "
            "JOIN households h ON h.id = m.household_id "
            f"WHERE h.territory_code = $1 AND NOT h.protected ORDER BY {order}, p.id LIMIT $2",
            territory,
            SAMPLE,
        )
        return _search([(r["first_name"], r["last_name"]) for r in _need(rows, name)], rng, tally)
    if name == "create-demand":
        rows = await conn.fetch(
            f"SELECT h.id FROM households h WHERE h.territory_code = $1 AND h.closed_at IS NULL "
            f"ORDER BY {order} LIMIT $2",
            territory,
            SAMPLE,
        )
        return _create_demand(
            [str(encode_id("Household", id_)) for id_ in _need(rows, name)], rng, tally
        )
    raise ValueError(f"unknown scenario {name!r}")


def _need(rows: list[asyncpg.Record], name: str) -> list[Any]:
    if not rows:
        raise RuntimeError(f"{name}: nothing to draw from in the viewer's territory")
    return [row if len(row) > 1 else row[0] for row in rows]
