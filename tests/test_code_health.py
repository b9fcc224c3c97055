"""What must follow the schema by hand, checked against it: the prefetch map.

`resolvers.prefetch.RELATIONS` names, by (GraphQL type, field), the relations a root list
loads for a whole level before graphql-core walks it. A key that names no field, or a
child type that is not the field's, is a mistake nothing else would catch (the relation
would silently never be prefetched); a field that loads per object without an entry
costs a future per object (the answer stays right, only slower). The first test reads
the exported schema; the second runs a document selecting every field below the
prefetching roots and lists the fields whose resolver still returned an awaitable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    build_schema,
    get_named_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension

from auth.settings import Settings
from resolvers.prefetch import RELATIONS
from schema import SDL_PATH, SiaoSchema
from tests.conftest import Run

Viewer = Callable[[str | None], Run]

SCHEMA = build_schema(SDL_PATH.read_text())

# Fields below a prefetching root that still answer with a future per object, each for a
# reason; a field that newly waits must get a relation in `RELATIONS` or a line here.
NOT_PREFETCHED: dict[tuple[str, str], str] = {
    ("HouseholdConnection", "totalCount"): "the root list's own count, one statement if asked",
    ("Structure", "territory"): "a few structures per answer; their territories in one batch",
}
# Types whose every field may wait: the Situation tab is read for one household at a time
# (the record screen), its sections and attachments by loaders that batch each level.
NOT_PREFETCHED_TYPES = {"HouseholdSituation", "MemberSituation"}


def _field(type_name: str, field_name: str) -> GraphQLField:
    parent = SCHEMA.get_type(type_name)
    assert isinstance(parent, GraphQLObjectType), f"RELATIONS: no object type {type_name}"
    field: GraphQLField | None = parent.fields.get(field_name)
    assert field is not None, f"RELATIONS: {type_name} has no field {field_name}"
    return field


def _node_type(connection: GraphQLObjectType) -> str:
    edge = get_named_type(connection.fields["edges"].type)
    assert isinstance(edge, GraphQLObjectType)
    name: str = get_named_type(edge.fields["node"].type).name
    return name


def test_every_prefetched_relation_names_a_field_of_the_schema_and_its_type() -> None:
    for (type_name, field_name), relation in RELATIONS.items():
        named = get_named_type(_field(type_name, field_name).type)
        where = f"RELATIONS[({type_name!r}, {field_name!r})]"
        if is_leaf_type(named):
            # A scalar answered from a loader (a count, a date): nothing is selected below.
            assert relation.count is None, f"{where}: a scalar has no count"
            continue
        assert isinstance(named, GraphQLObjectType), f"{where}: {named.name} is abstract"
        if named.name.endswith("Connection") and "edges" in named.fields:
            assert relation.child == _node_type(named), f"{where}: child is not the node type"
            assert relation.count is not None, f"{where}: a connection needs its count"
        else:
            assert relation.child == named.name, f"{where}: child is not {named.name}"
            assert relation.count is None, f"{where}: only a connection has a count"


# --- every field below the prefetching roots ---------------------------------------------

PAGE = 2


def _arguments(field: GraphQLField) -> str | None:
    """The arguments to select the field with: a small page, the first value of a required
    enum; None when a required argument cannot be made up (the field is left out)."""
    given = []
    for name, argument in field.args.items():
        if name == "first":
            given.append(f"first: {PAGE}")
        elif isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined:
            inner = argument.type.of_type
            if not isinstance(inner, GraphQLEnumType):
                return None
            given.append(f"{name}: {next(iter(inner.values))}")
    return f"({', '.join(given)})" if given else ""


def _selection(parent: GraphQLObjectType, path: frozenset[str]) -> Iterator[str]:
    """Every field of `parent`; below it, every field of each object type not already on
    the path (so each type is expanded, and each relation reached, without a cycle)."""
    for name, field in parent.fields.items():
        arguments = _arguments(field)
        if arguments is None:
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            yield f"{name}{arguments}"
        elif isinstance(named, GraphQLObjectType) and named.name not in path:
            inner = " ".join(_selection(named, path | {named.name}))
            if inner:
                yield f"{name}{arguments} {{ {inner} }}"


def _root_document(root: str, arguments: str) -> str:
    field = SCHEMA.query_type.fields[root] if SCHEMA.query_type else None
    assert field is not None
    named = get_named_type(field.type)
    assert isinstance(named, GraphQLObjectType)
    return f"{{ {root}{arguments} {{ {' '.join(_selection(named, frozenset({named.name})))} }} }}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Room for a document that selects everything (a few objects per list)."""
    return replace(settings, max_depth=64, max_tokens=200_000, max_nodes=1_000_000)


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """The (type, field) pairs whose resolver returned an awaitable, roots aside."""
    waited: set[tuple[str, str]] = set()

    class Recorder(SchemaExtension):
        def resolve(
            self, _next: Callable[..., Any], root: Any, info: Any, *a: Any, **k: Any
        ) -> Any:
            result = _next(root, info, *a, **k)
            if inspect.isawaitable(result) and root is not None:
                waited.add((info.parent_type.name, info.field_name))
            return result

    original = SiaoSchema.get_extensions

    def with_recorder(self: SiaoSchema, sync: bool = False) -> list[SchemaExtension]:
        return [*original(self, sync), Recorder()]

    monkeypatch.setattr(SiaoSchema, "get_extensions", with_recorder)
    return waited


@pytest.mark.parametrize(
    ("login", "root", "arguments"),
    [
        ("siao.75@demo.siao", "households", f"(first: {PAGE})"),
        ("sw.alpha@demo.siao", "households", f"(first: {PAGE})"),
        ("manager.chrs@demo.siao", "structures", ""),
    ],
)
async def test_below_a_prefetching_root_only_known_fields_wait_per_object(
    as_user: Viewer, waiting: set[tuple[str, str]], login: str, root: str, arguments: str
) -> None:
    answer = await as_user(login)(_root_document(root, arguments))
    assert answer.data is not None, answer.errors[:3]
    assert answer.data[root], "nothing to walk below the root"
    unknown = {
        f"{t}.{f}"
        for t, f in waiting - NOT_PREFETCHED.keys()
        if t not in NOT_PREFETCHED_TYPES | {"Query"}
    }
    assert not unknown, f"fields loaded one object at a time: {sorted(unknown)}"
