"""The cost limit and the shape of documents (schema/cost.py, docs/cost-limit.md): what a
document could return is counted before anything runs, and a document over
`SIAO_MAX_NODES` is refused with QUERY_TOO_COSTLY without a single SQL statement; empty
selections, depth and aliases get coded errors, however the fragments nest."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from graphql import (
    DocumentNode,
    OperationDefinitionNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    parse,
    print_ast,
)
from starlette.applications import Starlette

from auth.settings import Settings
from auth.tokens import mint_dev_token
from bench import scenarios, throughput
from models.demo import FIRST_75_REFERENCE
from schema import build_schema
from schema.cost import (
    ASSUMED_SIZES,
    HOUSEHOLD_MEMBERS,
    SIZED_BY_ARGUMENT,
    USER_ERRORS,
    count_nodes,
)
from schema.graphiql import EXAMPLES_DIR, FIRST_QUERY
from schema.node import encode_id
from server import create_app
from tests.conftest import Answer, Run, http_client
from tools.examples_http import FROM, examples_in_order

OPERATOR = "siao.75@demo.siao"
LIMIT = Settings().max_nodes
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cost-limit.md"
Viewer = Callable[[str | None], Run]

PAGE = "edges { node { reference } }"
EVENTS = "edges { node { at action entityType changes actor { displayName } } }"
# The request of issue #12 that answered 19 MiB after ~20 s on the demo data: every alias
# allowed, the largest pages, a nested page in each.
ATTACK = (
    "{ "
    + " ".join(
        f"a{i}: households(first: 100) {{ edges {{ node {{ reference "
        f"auditEvents(first: 100) {{ {EVENTS} }} }} }} }}"
        for i in range(30)
    )
    + " }"
)
ATTACK_COST = 30 * (100 + 100 * 100)
NOTE_PAGE = "edges { node { notes(first: $n) { edges { node { body } } } } }"
NOTES = f"query ($n: Int!) {{ households(first: 100) {{ {NOTE_PAGE} }} }}"
NOTES_TWICE = (
    f"query ($n: Int!) {{ a: households(first: 100) {{ {NOTE_PAGE} }} "
    f"b: households(first: 100) {{ {NOTE_PAGE} }} }}"
)


async def post(
    app: Starlette, document: str, variables: dict[str, Any] | None = None, login: str | None = None
) -> tuple[int, Answer]:
    """The document as a client sends it (raw JSON: a `{}` never leaves gql's parser)."""
    settings: Settings = app.state.settings
    headers = {"Authorization": f"Bearer {mint_dev_token(settings, login)}"} if login else {}
    async with http_client(app, headers) as client:
        response = await client.post("/graphql", json={"query": document, "variables": variables})
    body = response.json()
    answer = Answer(body.get("data"), body.get("errors") or [], body.get("extensions") or {})
    return response.status_code, answer


@pytest.fixture
async def strict(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    """The app with small limits: 50 objects, depth 4."""
    application = create_app(dataclasses.replace(settings, max_nodes=50, max_depth=4), database_url)
    async with application.router.lifespan_context(application):
        yield application


async def access_events(sql: asyncpg.Connection) -> int:
    count = await sql.fetchval("SELECT count(*) FROM access_events")
    assert isinstance(count, int)
    return count


# -- Refused before anything runs --------------------------------------------------------


async def test_the_attack_of_the_issue_is_refused_with_its_cost_before_any_sql(
    as_user: Viewer,
) -> None:
    answer = await as_user(OPERATOR)(ATTACK)
    assert answer.data is None
    assert answer.codes == ["QUERY_TOO_COSTLY"]
    extensions = answer.errors[0]["extensions"]
    assert extensions["cost"] == ATTACK_COST
    assert extensions["maxNodes"] == LIMIT
    assert answer.extensions["cost"] == {"nodes": ATTACK_COST, "limit": LIMIT}
    assert answer.extensions["sql"]["statements"] == 0


async def test_a_refused_document_reads_nothing_and_logs_no_access(
    as_user: Viewer, sql: asyncpg.Connection
) -> None:
    # 100 households and 100 notes each fit; twice that does not.
    assert 100 + 100 * 100 <= LIMIT < 2 * (100 + 100 * 100)
    before = await access_events(sql)
    refused = await as_user(OPERATOR)(NOTES_TWICE, n=100)
    assert refused.codes == ["QUERY_TOO_COSTLY"]
    assert refused.extensions["sql"]["statements"] == 0
    assert await access_events(sql) == before
    # The same page once is within the limit: it runs, and reading notes is logged.
    allowed = await as_user(OPERATOR)(NOTES, n=100)
    assert allowed.errors == []
    assert allowed.extensions["cost"]["nodes"] == 100 + 100 * 100
    assert await access_events(sql) > before


async def test_a_document_at_the_limit_runs_and_one_object_more_is_refused(
    strict: Starlette,
) -> None:
    document = f"query ($n: Int!) {{ households(first: $n) {{ {PAGE} }} }}"
    _, at_limit = await post(strict, document, {"n": 50}, OPERATOR)
    assert at_limit.errors == []
    assert at_limit.extensions["cost"] == {"nodes": 50, "limit": 50}
    _, over = await post(strict, document, {"n": 51}, OPERATOR)
    assert over.data is None
    assert over.codes == ["QUERY_TOO_COSTLY"]
    assert over.errors[0]["extensions"]["cost"] == 51
    assert over.extensions["sql"]["statements"] == 0


async def test_fragments_spread_into_fragments_are_counted_per_spread(as_user: Viewer) -> None:
    # 2^40 copies of a household's members once expanded: measured without expanding.
    fragments = ["fragment F0 on Household { members { relationship } }"]
    fragments += [f"fragment F{i} on Household {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 41)]
    document = f'{{ household(reference: "{FIRST_75_REFERENCE}") {{ ...F40 }} }} ' + " ".join(
        fragments
    )
    answer = await as_user(OPERATOR)(document)
    assert answer.codes == ["QUERY_TOO_COSTLY"]
    assert answer.errors[0]["extensions"]["cost"] == HOUSEHOLD_MEMBERS * 2**40


# -- How the cost is counted -------------------------------------------------------------


def _nodes_ids() -> list[str]:
    return [str(encode_id("Household", f"00000000-0000-0000-0000-00000000000{i}")) for i in "123"]


COSTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("a page of `first` items", f"{{ households(first: 7) {{ {PAGE} }} }}", {}, 7),
    (
        "each alias",
        f"{{ a: households(first: 7) {{ {PAGE} }} b: households(first: 7) {{ {PAGE} }} }}",
        {},
        14,
    ),
    (
        "a named fragment, its pages multiplied by the page around it",
        "{ households(first: 3) { edges { node { ...Lists } } } } "
        "fragment Lists on Household { demands(first: 4) { edges { node { kind } } } "
        "members { relationship } }",
        {},
        3 + 3 * (4 + HOUSEHOLD_MEMBERS),
    ),
    (
        "an inline fragment, and a list of ids by its length",
        "query ($ids: [ID!]!) { nodes(ids: $ids) { "
        "... on Household { members { relationship } } } }",
        {"ids": _nodes_ids()},
        3 + 3 * HOUSEHOLD_MEMBERS,
    ),
    (
        "`first` from a variable",
        f"query ($n: Int!) {{ households(first: $n) {{ {PAGE} }} }}",
        {"n": 9},
        9,
    ),
    (
        "a variable's default",
        f"query ($n: Int = 6) {{ households(first: $n) {{ {PAGE} }} }}",
        {},
        6,
    ),
    (
        "`first` absent: the field's default (20)",
        f"{{ households {{ {PAGE} }} }}",
        {},
        20,
    ),
    (
        "`first` from a null variable: the field's default",
        f"query ($n: Int) {{ households(first: $n) {{ {PAGE} }} }}",
        {"n": None},
        20,
    ),
    (
        "`first` from an absent variable: the field's default",
        f"query ($n: Int) {{ households(first: $n) {{ {PAGE} }} }}",
        {},
        20,
    ),
    (
        "a page whose items are not selected costs nothing",
        "{ households(first: 50) { totalCount } }",
        {},
        0,
    ),
    (
        "a list left out by @skip",
        "query ($s: Boolean!) { households(first: 5) { edges { node { members @skip(if: $s) "
        "{ relationship } } } } }",
        {"s": True},
        5,
    ),
    (
        "plain lists: their assumed size",
        "{ demands(first: 2) { edges { node { concernedPersons { firstName } "
        "household { members { relationship } } } } } }",
        {},
        2 + 2 * HOUSEHOLD_MEMBERS + 2 * HOUSEHOLD_MEMBERS,
    ),
    (
        "a payload's userErrors",
        'mutation { createDemand(input: {householdId: "x", kind: EMERGENCY}) '
        "{ userErrors { code } } }",
        {},
        USER_ERRORS,
    ),
]


@pytest.mark.parametrize(
    ("document", "variables", "nodes"),
    [pytest.param(d, v, n, id=label) for label, d, v, n in COSTS],
)
async def test_each_answer_carries_the_cost_of_its_document(
    app: Starlette, document: str, variables: dict[str, Any], nodes: int
) -> None:
    _, answer = await post(app, document, variables, OPERATOR)
    assert "QUERY_TOO_COSTLY" not in answer.codes
    assert answer.extensions["cost"] == {"nodes": nodes, "limit": LIMIT}


async def test_the_first_query_of_the_readme_runs(as_user: Viewer) -> None:
    document = (EXAMPLES_DIR / FIRST_QUERY).read_text()  # what the README shows
    assert "query FirstLook" in document
    answer = await as_user(OPERATOR)(document)
    assert answer.errors == []
    assert answer.data is not None
    assert answer.data["household"]["reference"] == FIRST_75_REFERENCE
    assert answer.extensions["cost"] == {"nodes": 30, "limit": LIMIT}


# -- The docs', the screens' and the bench's documents stay far under the limit ----------


def _placeholder(type_name: str) -> Any:
    return 0 if type_name in {"Int", "Float"} else "x"


def example_documents() -> list[tuple[str, str, dict[str, Any]]]:
    """Every example of examples/, which is every document of the README and docs/
    (tests/test_docs.py), with a value of the right type for each variable taken from an
    earlier answer (ids and versions do not change what a document may cost)."""
    documents: list[tuple[str, str, dict[str, Any]]] = []
    for group in examples_in_order():
        for example in group:
            given: dict[str, Any] = json.loads(example.variables or "{}")
            types = {
                d.variable.name.value: print_ast(d.type).strip("!")
                for d in example.operation.variable_definitions or ()
            }
            variables = {
                name: _placeholder(types[name])
                if isinstance(value, str) and FROM.match(value)
                else value
                for name, value in given.items()
            }
            label = example.path.relative_to(ROOT).as_posix()
            documents.append((label, example.text, variables))
    return documents


def bench_documents() -> list[tuple[str, str, dict[str, Any]]]:
    tabs = [(f"record tab {k}", v, {"ref": "x"}) for k, v in scenarios.TABS.items()]
    return [
        *tabs,
        ("work queue", scenarios.QUEUE, {"first": scenarios.QUEUE_PAGE}),
        ("search", scenarios.SEARCH, {"q": "dupont", "first": scenarios.SEARCH_PAGE}),
        (
            "createDemand",
            scenarios.CREATE_DEMAND,
            {"input": {"householdId": "x", "kind": "EMERGENCY"}},
        ),
    ]


def cost_of(document: str, variables: dict[str, Any]) -> int:
    """What the server counts for `document` (the same function), with the largest page
    size wherever a page size is left to the variables."""
    schema = build_schema()._schema
    parsed: DocumentNode = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    nodes = count_nodes(schema, parsed, operation, variables, Settings().max_page_size)
    assert nodes is not None, f"the variables do not fit {document}"
    return nodes


def test_the_docs_and_screen_documents_cost_a_tenth_of_the_limit_at_most() -> None:
    documents = example_documents() + bench_documents()
    assert len(documents) >= 30  # every example, the bench's documents
    costs = {label: cost_of(document, variables) for label, document, variables in documents}
    assert max(costs.values()) * 10 <= LIMIT, costs


def test_the_bench_work_list_at_its_largest_page_costs_half_the_limit_at_most() -> None:
    # 100 households with members, 5 demands and their persons, 3 change-log entries.
    assert cost_of(throughput.QUERY, {"first": 100}) * 2 <= LIMIT


# -- Every list has a bound ----------------------------------------------------------------


def _unpaginated_lists() -> set[str]:
    schema = build_schema()._schema
    found = set()
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not hasattr(type_, "fields"):
            continue
        for name, field in type_.fields.items():
            if (
                is_list_type(get_nullable_type(field.type))
                and is_composite_type(get_named_type(field.type))
                and "first" not in getattr(field, "args", {})
                and not type_.name.endswith("Connection")  # edges: the page
            ):
                found.add(f"{type_.name}.{name}")
    return found


def test_every_list_without_first_has_an_assumed_size_documented() -> None:
    lists = _unpaginated_lists()
    sized = set(ASSUMED_SIZES) | set(SIZED_BY_ARGUMENT)
    unsized = {key for key in lists - sized if not key.endswith(".userErrors")}
    assert unsized == set(), "give these lists a size in schema/cost.py ASSUMED_SIZES"
    assert sized <= lists, "ASSUMED_SIZES names fields the schema no longer has"
    doc = DOC.read_text()
    for key, size in ASSUMED_SIZES.items():
        assert re.search(rf"`{re.escape(key)}` \| {size} \|", doc), f"{key} in {DOC.name}"
    assert f"{LIMIT:,}" in doc


# -- Shapes: empty selections, depth, aliases ----------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        "{}",
        "mutation {}",
        "{ me {} }",
        "query Q { me { organisation {} } }",
        "{ ...F } fragment F on Query {}",
    ],
)
@pytest.mark.parametrize("login", [OPERATOR, None])
async def test_an_empty_selection_gets_a_coded_error(
    app: Starlette, document: str, login: str | None
) -> None:
    status, answer = await post(app, document, None, login)
    assert status < 500
    assert answer.data is None
    assert answer.codes
    assert set(answer.codes) <= {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}
    assert "GRAPHQL_PARSE_FAILED" in answer.codes
    assert not any("sequence" in e["message"] for e in answer.errors)


async def test_an_unknown_fragment_gets_a_coded_error(app: Starlette) -> None:
    _, answer = await post(app, "{ ...Missing }", None, OPERATOR)
    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert answer.errors[0]["message"] == "Unknown fragment 'Missing'."


# Depth 4 and 5 (no list: nothing to count): the household is at depth 0, `summary` at 1...
DEPTH_4 = "summary { referencePerson { currentHousehold { reference } } }"
DEPTH_5 = "summary { referencePerson { currentHousehold { summary { memberCount } } } }"
HOUSEHOLD = f'household(reference: "{FIRST_75_REFERENCE}")'


async def test_the_depth_limit_counts_as_before_fragments_included(strict: Starlette) -> None:
    _, at_limit = await post(strict, f"{{ {HOUSEHOLD} {{ {DEPTH_4} }} }}", None, OPERATOR)
    assert at_limit.errors == []
    assert at_limit.data is not None
    _, deeper = await post(strict, f"query Deep {{ {HOUSEHOLD} {{ {DEPTH_5} }} }}", None, OPERATOR)
    assert deeper.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert deeper.errors[0]["message"] == "'Deep' exceeds maximum operation depth of 4"
    fragment = f"{{ {HOUSEHOLD} {{ ...Deep }} }} fragment Deep on Household {{ {DEPTH_5} }}"
    _, through_fragment = await post(strict, fragment, None, OPERATOR)
    assert through_fragment.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert through_fragment.errors[0]["extensions"]["depth"] == 5


async def test_aliases_are_counted_per_spread_without_expanding(as_user: Viewer) -> None:
    fragments = ["fragment F0 on Query { a: __typename }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 41)]
    answer = await as_user(OPERATOR)("{ ...F40 } " + " ".join(fragments))
    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert answer.errors[0]["extensions"]["aliases"] == 2**40


async def test_introspection_has_a_cost_of_its_own(as_user: Viewer) -> None:
    """It sends no SQL, but the schema is megabytes: 30 aliases of it returned 5 MB at a
    cost of 0."""
    from schema.cost import INTROSPECTION_COST

    one = await as_user(OPERATOR)("{ __schema { types { name } } }")
    assert one.errors == []
    assert one.extensions["cost"]["nodes"] == INTROSPECTION_COST
    many = " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(30))
    refused = await as_user(OPERATOR)("{ " + many + " }")
    assert [e["extensions"]["code"] for e in refused.errors] == ["QUERY_TOO_COSTLY"]
    assert refused.errors[0]["extensions"]["cost"] == 30 * INTROSPECTION_COST
