"""Schema extensions: the authentication gate and the SQL cost report. None of them uses
the `resolve` hook (it would make every field async and the server several times slower)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from models.database import SqlStats, count_statements
from resolvers.errors import ErrorCode

INTROSPECTION = frozenset({"__typename", "__schema", "__type"})


def _root_fields(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    stack = list(operation.selection_set.selections)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            names.add(node.name.value)
        elif hasattr(node, "selection_set") and node.selection_set is not None:
            stack.extend(node.selection_set.selections)  # inline fragment
        elif hasattr(node, "name") and node.name.value in fragments:
            stack.extend(fragments[node.name.value].selection_set.selections)
    return names


class AuthenticationGate(SchemaExtension):
    """Without a (valid) viewer, only `__typename` and introspection are answered;
    anything else is refused before execution with UNAUTHENTICATED (deny by default:
    a new root field is protected without anyone remembering to protect it)."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if getattr(ctx.context, "viewer", None) is None:
            document = ctx.graphql_document
            operation = None
            fragments: dict[str, Any] = {}
            if document is not None:
                for definition in document.definitions:
                    if isinstance(definition, OperationDefinitionNode) and (
                        ctx.operation_name is None
                        or (definition.name and definition.name.value == ctx.operation_name)
                    ):
                        operation = operation or definition
                    elif isinstance(definition, FragmentDefinitionNode):
                        fragments[definition.name.value] = definition
            if operation is not None and _root_fields(operation, fragments) - INTROSPECTION:
                ctx.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            "Authentication required: send `Authorization: Bearer <token>`.",
                            extensions={"code": ErrorCode.UNAUTHENTICATED.value},
                        )
                    ],
                )
        yield


class SqlCost(SchemaExtension):
    """In dev, adds `extensions.sql = {statements, ms}` to every response, so that anyone
    can see what a query costs the database."""

    def __init__(self, *, execution_context: Any = None) -> None:
        self._stats: SqlStats | None = None

    def on_operation(self) -> Iterator[None]:
        with count_statements() as stats:
            self._stats = stats
            yield

    def get_results(self) -> dict[str, Any]:
        if self._stats is None:
            return {}
        return {"sql": {"statements": self._stats.statements, "ms": self._stats.ms}}


class AccessLog(SchemaExtension):
    """Writes the access events of sensitive reads once the operation has run (one batch)."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        if getattr(ctx, "accessed", None):
            await ctx.flush_access_log()
