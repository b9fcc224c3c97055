"""Every example of the docs (examples/) runs as written, as its demo user, on the demo data.

The examples are the documents the README and docs/ show (tests/test_docs.py checks that
they show nothing else) and GraphiQL's default tabs. Each folder runs in order on a fresh
copy of the demo data, through GraphQL over HTTP to the app: no error, no `userErrors`, and
a value `"<from Operation: path>"` of an example's variables is taken from the answer of
that earlier example, as the reader of the tutorial does. The tutorial's story (statuses,
who sees what when) is checked step by step, and the REST Client collection
(examples/siao.http) must be the one generated from the examples.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from graphql import FieldNode, NonNullTypeNode, OperationType, parse

from auth.settings import Settings
from models.demo import USERS
from schema.graphiql import EXAMPLES_DIR, Example, load_example
from tests.conftest import Run
from tools.examples_http import FROM, HTTP_FILE, examples_in_order, path_segments, render

Viewer = Callable[[str | None], Run]
Answers = dict[str, dict[str, Any]]

GROUPS = examples_in_order()
ALL = [example for group in GROUPS for example in group]
LIMIT_TENTH = Settings().max_nodes // 10  # an example costs a tenth of the limit at most


def group_id(group: list[Example]) -> str:
    return group[0].path.parent.relative_to(EXAMPLES_DIR.parent).as_posix()


def follow(data: Any, path: str) -> Any:
    """The value at `path` (`a.b[0].c[kind=X]`) of an answer's `data`."""
    for segment in path_segments(path):
        if isinstance(segment, tuple):
            key, value = segment
            data = next(item for item in data if str(item[key]) == value)
        else:
            data = data[segment]
    return data


def variables_of(example: Example, answers: Answers) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(example.variables) if example.variables else {}
    resolved = {}
    for name, value in values.items():
        match = FROM.match(value) if isinstance(value, str) else None
        if match is not None:
            value = follow(answers[match["step"]], match["path"])
        resolved[name] = value
    return resolved


def fields(selections: Any) -> dict[str, FieldNode]:
    """The fields of a selection set by the name they answer under (examples use no
    fragment at the root of a mutation)."""
    found = {}
    for selection in selections.selections:
        assert isinstance(selection, FieldNode), selection
        found[(selection.alias or selection.name).value] = selection
    return found


def mutation_fields(example: Example) -> dict[str, FieldNode]:
    operation = example.operation
    if operation.operation is not OperationType.MUTATION:
        return {}
    return fields(operation.selection_set)


async def run_group(as_user: Viewer, group: list[Example]) -> Answers:
    answers: Answers = {}
    for example in group:
        answer = await as_user(example.user)(example.text, **variables_of(example, answers))
        where = example.path.relative_to(EXAMPLES_DIR.parent)
        assert answer.errors == [], (where, answer.errors)
        assert answer.data is not None, where
        for field in mutation_fields(example):
            assert answer.data[field]["userErrors"] == [], (where, answer.data[field])
        assert answer.extensions["cost"]["nodes"] <= LIMIT_TENTH, (where, answer.extensions)
        answers[example.name] = answer.data
    return answers


@pytest.mark.parametrize("group", GROUPS, ids=group_id)
async def test_every_example_runs_as_written_as_its_user(
    as_user: Viewer, group: list[Example]
) -> None:
    answers = await run_group(as_user, group)
    assert list(answers) == [example.name for example in group]


# The tutorial's story (docs/tutorial.md): what each step answers, as the text says.
STORY: dict[str, tuple[str, Any]] = {
    "FindPerson": ("searchPersons.edges[0].node.householdReference", "7500000007"),
    "HouseholdToHelp": ("household.reference", "7500000007"),
    "EmergencyDemand": ("createDemand.demand.status", "SUBMITTED"),
    "EmergencyPlaces": ("structures[0].name", "CHU Les Glycines"),
    "PlaceForNight": ("placeForNight.demand.status", "PLACED"),
    "EndOfNight": ("recordExit.demand.status", "CLOSED"),
    "InsertionDemand": ("createDemand.demand.status", "SUBMITTED"),
    "WorkQueue": ("demands.edges[0].node.priority", 1),  # most urgent first
    "RerankDemand": ("setDemandPriority.demand.priority", 1),
    "ReviewDemand": ("reviewDemand.demand.status", "IN_REVIEW"),
    "InsertionPlaces": ("structures[0].name", "CHRS Les Tilleuls"),
    "ProposeOrientation": ("proposeOrientation.demand.status", "ORIENTED"),
    "OrientedToUs": ("household.demands.edges[0].node.orientations[0].status", "PROPOSED"),
    "AcceptOrientation": ("decideOrientation.demand.status", "ACCEPTED"),
    "Admit": ("admit.demand.status", "IN_STAY"),
    "ExitToHousing": ("recordExit.demand.status", "CLOSED"),
}


def tutorial() -> dict[str, Example]:
    (group,) = [group for group in GROUPS if group_id(group) == "examples/tutorial"]
    return {example.name: example for example in group}


async def test_the_tutorial_tells_what_happens(as_user: Viewer) -> None:
    steps = tutorial()
    assert set(STORY) == set(steps)
    answers: Answers = {}
    for name, example in steps.items():
        if name == "ProposeOrientation":
            # step 13: until the orientation, the CHRS does not see the household
            oriented = steps["OrientedToUs"]
            before = await as_user(oriented.user)(oriented.text, **variables_of(oriented, answers))
            assert before.errors == []
            assert before.data == {"household": None}
        answer = await as_user(example.user)(example.text, **variables_of(example, answers))
        assert answer.errors == [], (name, answer.errors)
        assert answer.data is not None
        answers[name] = answer.data
        path, expected = STORY[name]
        assert follow(answer.data, path) == expected, (name, answer.data)
        if name == "RerankDemand":
            # step 9: ranked 1 by the SIAO, the demand is now among the queue's first
            queue = steps["WorkQueue"]
            again = await as_user(queue.user)(queue.text)
            assert again.data is not None
            ranked = [edge["node"]["id"] for edge in again.data["demands"]["edges"]]
            assert answer.data["setDemandPriority"]["demand"]["id"] in ranked
    # step 1 finds one person; step 7's suggestion of priority 1 is kept, not applied, so
    # step 8's first twenty (priority 1 and 2 first) do not show the demand of step 7
    assert answers["FindPerson"]["searchPersons"]["totalCount"] == 1
    demand = answers["InsertionDemand"]["createDemand"]["demand"]
    assert (demand["priority"], demand["suggestedPriority"]) == (3, 1)
    entries = [edge["node"] for edge in answers["WorkQueue"]["demands"]["edges"]]
    assert demand["id"] not in [entry["id"] for entry in entries]
    assert len(entries) == 20
    assert entries[-1]["priority"] <= 3
    # "What else": step 14 run again is an impossible move
    accept = steps["AcceptOrientation"]
    again = await as_user(accept.user)(accept.text, **variables_of(accept, answers))
    errors = again.data["decideOrientation"]["userErrors"] if again.data else None
    assert errors is not None
    assert [(e["code"], e["currentStatus"]) for e in errors] == [("INVALID_TRANSITION", "CLOSED")]


# -- The format of the examples -------------------------------------------------------------


def test_each_example_is_one_named_operation_of_a_demo_user() -> None:
    assert len(ALL) >= 20
    names = [example.name for example in ALL]  # raises unless one named operation each
    assert len(names) == len(set(names)), "operation names are unique across examples"
    for example in ALL:
        assert example.text.startswith(f"# user: {example.user}\n"), example.path
        assert example.user in USERS, example.path
        parse(example.text)


def test_every_json_has_its_graphql_and_fits_its_variables() -> None:
    for variables in EXAMPLES_DIR.rglob("*.json"):
        assert variables.with_suffix(".graphql").is_file(), variables
    for example in ALL:
        declared = {
            definition.variable.name.value: definition
            for definition in example.operation.variable_definitions or ()
        }
        given = json.loads(example.variables) if example.variables else {}
        assert isinstance(given, dict), example.path
        assert set(given) <= set(declared), example.path
        required = {
            name
            for name, definition in declared.items()
            if isinstance(definition.type, NonNullTypeNode) and definition.default_value is None
        }
        assert required <= set(given), (example.path, required - set(given))


def test_values_come_from_earlier_examples_of_the_same_folder() -> None:
    for group in GROUPS:
        earlier: set[str] = set()
        for example in group:
            given = json.loads(example.variables) if example.variables else {}
            for value in given.values():
                if isinstance(value, str) and value.startswith("<"):
                    match = FROM.match(value)
                    assert match is not None, (example.path, value)
                    assert match["step"] in earlier, (example.path, value)
                    path_segments(match["path"])  # a path the tests and siao.http follow
            earlier.add(example.name)


def test_every_mutation_selects_its_user_errors() -> None:
    mutations = 0
    for example in ALL:
        for root in mutation_fields(example).values():
            mutations += 1
            payload = fields(root.selection_set)
            assert "userErrors" in payload, example.path
            selected = set(fields(payload["userErrors"].selection_set))
            assert {"code", "message", "field"} <= selected, example.path
    assert mutations >= 10


def test_the_bench_measures_the_record_tabs_of_the_examples() -> None:
    """The bench reads its record documents from examples/ (one source): each of its tabs
    is a tab example, and each tab example is measured."""
    from bench.scenarios import TAB_FILES, TABS

    folder = EXAMPLES_DIR / "household-record"
    assert sorted(TAB_FILES.values()) == sorted(p.name for p in folder.glob("0[1-6]-*.graphql"))
    for tab, name in TAB_FILES.items():
        assert TABS[tab] == load_example(folder / name).text


# -- The collection ------------------------------------------------------------------------


def test_the_rest_client_collection_is_in_step_with_the_examples() -> None:
    assert HTTP_FILE.read_text(encoding="utf-8") == render(), (
        "examples/siao.http is stale: run python tools/examples_http.py"
    )


def test_the_collection_chains_every_value_from_an_earlier_request() -> None:
    text = render()
    for example in ALL:
        assert f"# @name {example.name}\n" in text
    assert "<from " not in text
    assert (
        '"place": "{{EmergencyPlaces.response.body.$.data.structures[0]'
        ".places[?(@.placeType=='EMERGENCY')].id}}\"" in text
    )
    # a number goes unquoted (REST Client inserts the JSON of the value)
    assert '"version": {{HousingSteps.response.body.$.data.household.situation' in text
