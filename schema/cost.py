"""What a document may cost, measured before anything runs (docs/cost-limit.md).

Two measures, both walked with every fragment expanded once (a fragment's figures are
memoised, so a document that spreads fragments into fragments costs linear time to
measure, not exponential: strawberry's depth and alias limiters walked every spread
again, and a 1.4 KB document of 22 nested fragments kept a worker busy for 26 s before
authentication):

- the shape (`shape_rule`, a validation rule, cached with the document's validation):
  no empty selection set (`{}` parses with graphql-core >= 3.3 but is not GraphQL),
  the depth (`SIAO_MAX_DEPTH`, same rule as strawberry's `QueryDepthLimiter`) and the
  alias count (`SIAO_MAX_ALIASES`, same count as strawberry's `MaxAliasesLimiter`);
- the cost (`CostLimit`, an extension: it depends on the variables, so it cannot be a
  cached validation rule): how many objects the document could return, in the spirit of
  GitHub's node limit. Each list multiplies what it holds by its page size (`first`,
  or the field's default) or by the size assumed for it (`ASSUMED_SIZES`); the cost is
  the sum over every list of its possible items. Over `SIAO_MAX_NODES`, the document is
  refused with QUERY_TOO_COSTLY before any resolver (and so any SQL) runs. Threat: one
  request within every other limit (30 aliases x 100 households x 100 change-log
  entries) that answers 11 MiB after seconds of database work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_directive_values, get_variable_values
from strawberry.extensions import SchemaExtension

from models.situation import LINES_MAX
from models.structure import PlaceType
from resolvers.duplicates import MAX_CANDIDATES
from resolvers.errors import ErrorCode
from resolvers.pagination import DEFAULT_PAGE
from schema.query import MAX_NODES

# Figures saturate here: a document of fragments spread into fragments can describe
# astronomically many objects, and a client's JSON parser reads integers up to 2^53 - 1.
CAP = 2**53 - 1

# The size assumed for each list that takes no `first`: what the domain makes likely
# (a household of 8 is already a large one), or the hard bound where there is one.
# A new list field of an object type must be given its size here (tests/test_cost.py
# walks the schema) and in docs/cost-limit.md.
HOUSEHOLD_MEMBERS = 10
ASSUMED_SIZES: dict[str, int] = {
    # A household's current members, and what follows one per member.
    "Household.members": HOUSEHOLD_MEMBERS,
    "HouseholdSituation.members": HOUSEHOLD_MEMBERS,
    "Demand.concernedPersons": HOUSEHOLD_MEMBERS,
    "Note.concernedPersons": HOUSEHOLD_MEMBERS,
    "CreateHouseholdPayload.warnings": HOUSEHOLD_MEMBERS,
    "AddHouseholdMemberPayload.warnings": HOUSEHOLD_MEMBERS,
    # Histories: every member a household ever had, every household a person was in.
    "Household.memberHistory": 2 * HOUSEHOLD_MEMBERS,
    "Person.memberships": 10,
    # Who followed a household over its life (referents, hosting structures, partners).
    "Household.accompaniments": 20,
    # A demand's orientations (proposals, refusals, a new proposal...) and stays.
    "Demand.orientations": 10,
    "Demand.stays": 10,
    # The notes pinned now, the documents attached to the situation.
    "HouseholdSummary.pinnedNotes": 10,
    "HouseholdSituation.attachments": 20,
    # Hard bounds: the duplicate search's LIMIT, the budget's lines, one place per type.
    "Person.duplicateCandidates": MAX_CANDIDATES,
    "DuplicateWarning.candidates": MAX_CANDIDATES,
    "BudgetSection.resources": LINES_MAX,
    "BudgetSection.charges": LINES_MAX,
    "Structure.places": len(PlaceType),
    # The structures of one territory (the demo has a handful; a large département a
    # few hundred at most, and the list is not paginated).
    "Query.structures": 200,
    # The fields a colleague saved since the version a STALE_VERSION save had.
    "SituationUserError.changesSince": 20,
}
# `__schema` or `__type`, whatever is selected in it (the schema is a fixed size).
INTROSPECTION_COST = 1000
# Any payload's `userErrors`: one per problem of the input.
USER_ERRORS = 10
# A list sized by one of its arguments (a list of ids), and that argument's bound.
SIZED_BY_ARGUMENT: dict[str, tuple[str, int]] = {"Query.nodes": ("ids", MAX_NODES)}
# A list that nothing above covers (there is none: tests/test_cost.py checks it).
DEFAULT_LIST_SIZE = 10


def _add(a: int, b: int) -> int:
    return min(a + b, CAP)


def _times(a: int, b: int) -> int:
    return min(a * b, CAP)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    return (d for d in document.definitions if isinstance(d, OperationDefinitionNode))


# -- The shape: empty selections, depth, aliases (a validation rule) -------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """`levels`: how many fields deep the selection goes (a selection of leaves is 1);
    `aliases`: aliased fields, each spread of a fragment counting its own."""

    levels: int = 0
    aliases: int = 0


class _ShapeWalk:
    """Measures selection sets, each named fragment once (memoised; a fragment cycle,
    refused by graphql's own rules anyway, counts nothing the second time round)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, Shape] = {}
        self.active: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Shape:
        deepest, aliases = 0, 0
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                # As strawberry's limiter: introspection fields count as one level, not
                # what they select (graphql's own rule bounds introspection).
                inner = self.selection_set(selection.selection_set)
                levels = 0 if selection.name.value.startswith("__") else inner.levels
                shape = Shape(1 + levels, inner.aliases + (selection.alias is not None))
            elif isinstance(selection, InlineFragmentNode):
                shape = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                shape = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql knows no other selection
                continue
            deepest = max(deepest, shape.levels)
            aliases = _add(aliases, shape.aliases)
        return Shape(deepest, aliases)

    def fragment(self, name: str) -> Shape:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return Shape()  # unknown or cyclic: graphql's rules report it
        self.active.add(name)
        shape = self.selection_set(definition.selection_set)
        self.active.discard(name)
        self.memo[name] = shape
        return shape


def shape_rule(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """The rule refusing empty selection sets, operations deeper than `max_depth` and
    documents with more than `max_aliases` aliases. Built once per schema: the
    validation cache is keyed by the rule classes."""

    class ShapeRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            walk = _ShapeWalk(_fragments(document))
            aliases = 0
            for operation in _operations(document):
                shape = walk.selection_set(operation.selection_set)
                aliases = _add(aliases, shape.aliases)
                # Depth as strawberry counts it: the top-level fields are at depth 0.
                depth = shape.levels - 1
                if depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            operation,
                            extensions={
                                "code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value,
                                "depth": depth,
                                "maxDepth": max_depth,
                            },
                        )
                    )
            if aliases > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{aliases} aliases found. Allowed: {max_aliases}",
                        extensions={
                            "code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value,
                            "aliases": aliases,
                            "maxAliases": max_aliases,
                        },
                    )
                )

        def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
            # The grammar of the GraphQL specification (October 2021) is
            # `SelectionSet : { Selection+ }`; graphql-core 3.3 parses `{}` anyway.
            if not node.selections:
                self.report_error(
                    GraphQLError(
                        "Syntax Error: empty selection set: select at least one field.",
                        node,
                        extensions={"code": ErrorCode.GRAPHQL_PARSE_FAILED.value},
                    )
                )

    return ShapeRule


# -- The cost: how many objects the operation could return (with its variables) --------


class _NodeCount:
    """Counts the objects an operation could return, for its variables. Every figure is
    for ONE object of the parent type; a list multiplies what its items hold. A named
    fragment is counted once per (fragment, page size) and multiplied where spread."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.values: dict[str, Any] = variables.coerced
        self.max_page_size = max_page_size
        self.memo: dict[tuple[str, int | None], int] = {}
        self.active: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        """`page`: the page size when `parent` is a connection (its `edges` hold that
        many items); None elsewhere."""
        total = 0
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode) and selection.selection_set is None:
                continue  # a leaf: no object (most fields; skipped first, for speed)
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                total = _add(total, self.field(selection, parent, page))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total = _add(total, self.selection_set(selection.selection_set, inner, page))
            elif isinstance(selection, FragmentSpreadNode):
                total = _add(total, self.fragment(selection.name.value, page))
        return total

    def fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key in self.memo:
            return self.memo[key]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return 0  # unknown or cyclic: validation has refused the document
        self.active.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        count = self.selection_set(definition.selection_set, parent, page)
        self.active.discard(name)
        self.memo[key] = count
        return count

    def field(self, node: FieldNode, parent: Any, page: int | None) -> int:
        name = node.name.value
        if name in ("__schema", "__type"):
            # No database work, but the whole schema is megabytes: 30 aliases of a full
            # `__schema` returned 5 MB at cost 0. GraphiQL's one introspection passes.
            return INTROSPECTION_COST
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0  # `__typename`; a union selects no field
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0  # a scalar or a list of scalars: no object
        if "first" in definition.args:
            # A connection: one object, whose `edges` hold `first` items.
            return self.selection_set(node.selection_set, named, self.first(node, definition))
        if is_list_type(get_nullable_type(definition.type)):
            size = page if page is not None else self.list_size(f"{parent.name}.{name}", node)
            inner = self.selection_set(node.selection_set, named, None)
            return _add(size, _times(size, inner))
        return self.selection_set(node.selection_set, named, None)

    def first(self, node: FieldNode, definition: Any) -> int:
        """The page size: `first` (a literal or a variable), or the argument's default
        when absent or null; a value past the bounds is refused by the field itself."""
        value = self.argument(node, "first")
        if not _is_int(value):
            value = definition.args["first"].default_value
        if not _is_int(value):
            value = DEFAULT_PAGE
        return max(0, min(int(value), self.max_page_size))

    def list_size(self, key: str, node: FieldNode) -> int:
        if key in SIZED_BY_ARGUMENT:
            argument, bound = SIZED_BY_ARGUMENT[key]
            value = self.argument(node, argument)
            count = len(value) if isinstance(value, list) else int(value is not None)
            return min(count, bound)
        if key in ASSUMED_SIZES:
            return ASSUMED_SIZES[key]
        return USER_ERRORS if node.name.value == "userErrors" else DEFAULT_LIST_SIZE

    def argument(self, node: FieldNode, name: str) -> Any:
        """An argument's value as given (literal or variable), None when absent or null.
        Only what the cost reads: an Int, or a list whose length counts."""
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                return self.values.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return list(value.values)
            return None if isinstance(value, NullValueNode) else [value]
        return None

    def included(self, node: Any) -> bool:
        """False when `@skip(if: true)` or `@include(if: false)` leaves it out."""
        if not node.directives:
            return True
        try:
            skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
            include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        except GraphQLError:
            return True  # execution will refuse the value; count the node meanwhile
        return not (skip is not None and skip.get("if")) and not (
            include is not None and include.get("if") is False
        )


def count_nodes(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    max_page_size: int,
) -> int | None:
    """How many objects `operation` could return with these variables; None when the
    variables do not fit the operation (execution refuses them before any resolver)."""
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=1
    )
    if isinstance(coerced, list):
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    walk = _NodeCount(schema, _fragments(document), coerced, max_page_size)
    return walk.selection_set(operation.selection_set, root, None)


def _chosen_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation that execution would run (None: it will refuse the request)."""
    operations = list(_operations(document))
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


class CostLimit(SchemaExtension):
    """Refuses a document that could return more than `max_nodes` objects, before any
    resolver runs (QUERY_TOO_COSTLY, with `cost` and `maxNodes`). With `report` (dev),
    every measured answer carries `extensions.cost = {nodes, limit}`, as it carries
    `extensions.sql`; in prod only the refusal tells the figures (an anonymous request
    learns nothing of the schema, not even a count).

    Runs in the validation step, after the cached validation and the authentication
    gate (a document they refuse is not measured), so that a subscription is measured
    too; the cost reads the variables, so it is computed for every request."""

    def __init__(
        self, *, max_nodes: int, max_page_size: int, report: bool, execution_context: Any = None
    ) -> None:
        self.max_nodes = max_nodes
        self.max_page_size = max_page_size
        self.report = report
        self.nodes: int | None = None

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        variables = ctx.variables
        if (
            not ctx.pre_execution_errors
            and document is not None
            and (variables is None or isinstance(variables, dict))
        ):
            operation = _chosen_operation(document, ctx.operation_name)
            if operation is not None:
                # The graphql-core schema: strawberry (0.341) has no public accessor for it
                # (its own extensions read `_schema` too).
                self.nodes = count_nodes(
                    ctx.schema._schema, document, operation, variables, self.max_page_size
                )
            if self.nodes is not None and self.nodes > self.max_nodes:
                # A new list: the cached one is shared by every request of the document.
                ctx.pre_execution_errors = [too_costly(self.nodes, self.max_nodes)]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.nodes is None or not self.report:
            return {}
        return {"cost": {"nodes": self.nodes, "limit": self.max_nodes}}


def too_costly(nodes: int, max_nodes: int) -> GraphQLError:
    return GraphQLError(
        f"This document could return up to {nodes} objects; the limit is {max_nodes} "
        "(SIAO_MAX_NODES). Ask for smaller pages (`first`), fewer aliases or less "
        "nesting: each list multiplies what it holds by its page size.",
        extensions={
            "code": ErrorCode.QUERY_TOO_COSTLY.value,
            "cost": nodes,
            "maxNodes": max_nodes,
        },
    )
