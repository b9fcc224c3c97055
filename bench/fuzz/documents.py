"""Requests of schema-generated documents (hypothesis-graphql): arguments inline or
hoisted into variables (sent, null, absent), real ids where the name says which type,
aliases, GET or POST, as one of the roles."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import graphql
import hypothesis_graphql
from hypothesis import strategies as st

from bench.fuzz.oracle import Case
from bench.fuzz.values import (
    custom_scalars,
    draw_many,
    id_type,
    ids_by_type,
    literal,
    plain_scalars,
)
from schema import SDL_PATH

SURROGATE = re.compile("[\ud800-\udfff]")


InputField = tuple[graphql.GraphQLInputType, bool, str]  # type, has a default, name


def _input_fields(
    node: graphql.ValueNode, type_: graphql.GraphQLInputType
) -> list[tuple[graphql.ObjectFieldNode, InputField | None]] | None:
    """The fields of an input object literal with their definitions (None: unknown
    field); None when `node` is not an object of an input object type."""
    named = graphql.get_nullable_type(type_)
    if not isinstance(node, graphql.ObjectValueNode):
        return None
    if not isinstance(named, graphql.GraphQLInputObjectType):
        return None
    out: list[tuple[graphql.ObjectFieldNode, InputField | None]] = []
    for f in node.fields:
        definition = named.fields.get(f.name.value)
        if definition is None:
            out.append((f, None))
        else:
            has_default = definition.default_value is not graphql.Undefined
            out.append((f, (definition.type, has_default, f.name.value)))
    return out


@dataclass
class _Hoisting:
    """Moves some argument values of a generated document into variables, as clients do:
    with the declared type, or a nullable one where the argument has a default (allowed,
    and what `demands(first: $f)` with a null `$f` does), then sent, null, or absent."""

    schema: graphql.GraphQLSchema
    rng: random.Random
    # Plain documents: ids of the right type, real cursors (else ids stay as drawn).
    real: dict[str, list[str]] | None = None
    careless: bool = False
    definitions: list[graphql.VariableDefinitionNode] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    def selections(
        self, selection_set: graphql.SelectionSetNode, parent: graphql.GraphQLNamedType
    ) -> graphql.SelectionSetNode:
        out: list[graphql.SelectionNode] = []
        for node in selection_set.selections:
            if isinstance(node, graphql.InlineFragmentNode) and node.type_condition is not None:
                inner = self.schema.get_type(node.type_condition.name.value)
                assert inner is not None
                out.append(
                    graphql.InlineFragmentNode(
                        type_condition=node.type_condition,
                        directives=node.directives,
                        selection_set=self.selections(node.selection_set, inner),
                    )
                )
            elif isinstance(node, graphql.FieldNode) and isinstance(
                parent, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType
            ):
                definition = parent.fields[node.name.value]
                arguments = []
                for arg in node.arguments or ():
                    argument = definition.args[arg.name.value]
                    has_default = argument.default_value is not graphql.Undefined
                    value = self.value(arg.value, argument.type, has_default, arg.name.value)
                    arguments.append(graphql.ArgumentNode(name=arg.name, value=value))
                out.append(
                    graphql.FieldNode(
                        alias=node.alias,
                        name=node.name,
                        arguments=tuple(arguments),
                        directives=node.directives,
                        selection_set=node.selection_set
                        and self.selections(
                            node.selection_set, graphql.get_named_type(definition.type)
                        ),
                    )
                )
            else:
                out.append(node)
        return graphql.SelectionSetNode(selections=tuple(out))

    def value(
        self,
        node: graphql.ValueNode,
        type_: graphql.GraphQLInputType,
        has_default: bool,
        name: str,
    ) -> graphql.ValueNode:
        if self.real is not None:
            node = self.realistic(node, type_, name)
        # A lone surrogate is a syntax error in a GraphQL string: mostly sent as a variable.
        surrogate = SURROGATE.search(graphql.print_ast(node)) is not None
        if surrogate and self.rng.random() < 0.9:
            how = "variable"
        else:
            how = self.rng.choice(["inline", "variable", "descend"])
        if how == "descend" and (fields := _input_fields(node, type_)) is not None:
            return graphql.ObjectValueNode(
                fields=tuple(
                    graphql.ObjectFieldNode(name=f.name, value=self.value(f.value, *field))
                    if field
                    else f
                    for f, field in fields
                )
            )
        if how != "variable":
            return node
        declared: graphql.GraphQLInputType = type_
        if isinstance(type_, graphql.GraphQLNonNull) and has_default and self.rng.random() < 0.5:
            declared = type_.of_type
        variable = graphql.VariableNode(name=graphql.NameNode(value=f"v{len(self.definitions)}"))
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=variable, type=graphql.parse_type(str(declared))
            )
        )
        value = graphql.value_from_ast_untyped(node)
        sent = "value"
        if not isinstance(declared, graphql.GraphQLNonNull):
            sent = self.rng.choice(["value", "value", "null", "absent"])
        elif self.careless:  # a required variable null or missing
            sent = self.rng.choice(["value"] * 4 + ["null", "absent"])
        if sent != "absent":
            self.variables[variable.name.value] = None if sent == "null" else value
        return variable

    def realistic(
        self, node: graphql.ValueNode, type_: graphql.GraphQLInputType, name: str
    ) -> graphql.ValueNode:
        """Ids of the type their name says (`householdId`), real cursors in `after`, full
        pages, down through input objects and lists."""
        assert self.real is not None
        named = graphql.get_nullable_type(type_)
        if (fields := _input_fields(node, type_)) is not None:
            return graphql.ObjectValueNode(
                fields=tuple(
                    graphql.ObjectFieldNode(
                        name=f.name, value=self.realistic(f.value, field[0], field[2])
                    )
                    if field
                    else f
                    for f, field in fields
                )
            )
        if isinstance(node, graphql.ListValueNode) and isinstance(named, graphql.GraphQLList):
            values = tuple(self.realistic(v, named.of_type, name) for v in node.values)
            return graphql.ListValueNode(values=values)
        if isinstance(node, graphql.NullValueNode) or self.rng.random() < 0.1:
            return node
        if name == "after" and self.real.get(""):
            return literal(self.rng.choice(self.real[""]))
        if name == "first" and self.rng.random() < 0.3:
            return literal(100)  # the largest page: nested, the cost limit's business
        if graphql.get_named_type(type_).name != "ID":
            return node
        wanted = id_type(name)
        pool = (
            self.real.get(wanted, [])
            if wanted
            else [i for k, v in self.real.items() if k for i in v]
        )
        return literal(self.rng.choice(pool)) if pool else node


ACCEPTS = (
    None,
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "*/*",
)


@st.composite
def document_cases(
    draw: st.DrawFn,
    schema: graphql.GraphQLSchema,
    documents: st.SearchStrategy[tuple[graphql.DocumentNode, bool]],
    roles: Sequence[str],
    real_ids: Sequence[str] = (),
) -> Case:
    """A generated document as one request: literals or variables, named or not, an
    occasional alias flood, POST (or GET for a query), as one of `roles`."""
    document, plain = draw(documents)
    # The choices below with their stated odds (hypothesis would favour the first option).
    rng = draw(st.randoms(use_true_random=True))
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    root = schema.get_root_type(operation.operation)
    assert root is not None
    hoisting = _Hoisting(
        schema, rng, ids_by_type(real_ids) if plain else None, careless=rng.random() < 0.2
    )
    selections = hoisting.selections(operation.selection_set, root)
    if rng.random() < 0.05:  # many aliases of one root field
        first = selections.selections[0]
        if isinstance(first, graphql.FieldNode):
            copies = rng.choice([2, 31, 200])
            aliased = (
                graphql.FieldNode(
                    alias=graphql.NameNode(value=f"a{i}"),
                    name=first.name,
                    arguments=first.arguments,
                    directives=first.directives,
                    selection_set=first.selection_set,
                )
                for i in range(copies)
            )
            selections = graphql.SelectionSetNode(selections=(*aliased, *selections.selections))
    named = rng.random() < 0.5
    text = graphql.print_ast(
        graphql.DocumentNode(
            definitions=(
                graphql.OperationDefinitionNode(
                    operation=operation.operation,
                    name=graphql.NameNode(value="Fuzz") if named else None,
                    variable_definitions=tuple(hoisting.definitions),
                    selection_set=selections,
                ),
            )
        )
    )
    request: dict[str, Any] = {"query": text}
    empty_variables = rng.random() < 0.5
    if hoisting.variables or empty_variables:
        request["variables"] = hoisting.variables
    if named:
        request["operationName"] = "Fuzz"
    elif rng.random() < 0.5:
        request["operationName"] = None
    role = rng.choice(list(roles))
    accept = rng.choice(ACCEPTS)
    headers: tuple[tuple[str, str | bytes], ...] = (("accept", accept),) if accept else ()
    kind = f"document:{operation.operation.value}:{'plain' if plain else 'hostile'}"
    if operation.operation is graphql.OperationType.QUERY and rng.random() < 0.05:
        params = tuple(
            (k, v if isinstance(v, str) else json.dumps(v))
            for k, v in request.items()
            if v is not None
        )
        if sum(len(v) for _, v in params) < 8000:
            return Case(kind, role, "GET", headers=headers, params=params)
    body = json.dumps(request).encode()  # lone surrogates go out as \ud800 escapes
    return Case(kind, role, body=body, headers=(("content-type", "application/json"), *headers))


@cache
def exported_schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SDL_PATH.read_text())


def generate_documents(
    count: int, seed: int, roles: Sequence[str], real_ids: Sequence[str], operations: str = "both"
) -> list[Case]:
    """`count` requests of schema-generated documents, queries and mutations: half with
    plain values (to reach the resolvers), a third with hostile ones, a sixth with one
    schema violation (hypothesis-graphql's negative mode). Most documents select one root
    field, a query or a mutation drawn evenly (the library alone favours a few)."""
    schema = exported_schema()
    groups = [
        list(root.fields)
        for root in (schema.query_type, schema.mutation_type)
        if root is not None and operations in ("both", root.name.lower())
    ]
    roots = [name for group in groups for name in group]

    def documents(**options: Any) -> st.SearchStrategy[graphql.DocumentNode]:
        make = partial(hypothesis_graphql.from_schema, schema, print_ast=lambda d: d, **options)
        alone = [st.one_of([make(fields=[name]) for name in group]) for group in groups]
        return st.one_of(make(fields=roots), *alone)

    hostile = custom_scalars(real_ids)
    plain = documents(custom_scalars=plain_scalars()).map(lambda d: (d, True))
    rough = documents(custom_scalars=hostile).map(lambda d: (d, False))
    negative = hypothesis_graphql.from_schema(  # any root: some alone have nothing to break
        schema,
        fields=roots,
        custom_scalars=hostile,
        mode=hypothesis_graphql.Mode.NEGATIVE,
        print_ast=lambda d: d,
    )
    drawn = st.one_of(plain, plain, plain, rough, rough, negative.map(lambda d: (d, False)))
    return draw_many(document_cases(schema, drawn, roles, real_ids), count, seed)


def document_batch(job: tuple[int, int, tuple[str, ...], tuple[str, ...], str]) -> list[Case]:
    count, seed, roles, real_ids, operations = job
    return generate_documents(count, seed, roles, real_ids, operations)
