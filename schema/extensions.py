"""Schema extensions: the authentication gate and the SQL cost report. None of them uses
the `resolve` hook (it would make every field async and the server several times slower)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
)
from graphql.language import Node
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult

from auth.settings import Introspection, Settings
from models.database import SqlStats, count_statements
from resolvers.errors import ErrorCode
from resolvers.events import LiveContext
from resolvers.validation import FORBIDDEN_TEXT, forbidden_text

INTROSPECTION = frozenset({"__typename", "__schema", "__type"})
TYPENAME = frozenset({"__typename"})
AUTHENTICATION_REQUIRED = "Authentication required: send `Authorization: Bearer <token>`."
SESSION_ENDED = "The session has ended: open a new connection with a valid token."
# graphql-core's hints: " Did you mean 'households'?", "... the enum value 'X'?"
SUGGESTION = re.compile(r"\s*Did you mean\b[^?]*\?")


def _root_fields(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    expanded: set[str] = set()
    stack = list(operation.selection_set.selections)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            names.add(node.name.value)
        elif hasattr(node, "selection_set") and node.selection_set is not None:
            stack.extend(node.selection_set.selections)  # inline fragment
        elif (
            hasattr(node, "name")
            and node.name.value in fragments
            # Each fragment once: a fragment spread twice by each of the one it spreads
            # would cost 2^n here (a 1.5 KB anonymous request blocked a worker for minutes).
            and node.name.value not in expanded
        ):
            expanded.add(node.name.value)
            stack.extend(fragments[node.name.value].selection_set.selections)
    return names


def _operation(
    ctx: ExecutionContext,
) -> tuple[OperationDefinitionNode | None, dict[str, Any]]:
    """The operation to run and the document's fragments."""
    operation = None
    fragments: dict[str, Any] = {}
    if ctx.graphql_document is not None:
        for definition in ctx.graphql_document.definitions:
            if isinstance(definition, OperationDefinitionNode) and (
                ctx.operation_name is None
                or (definition.name and definition.name.value == ctx.operation_name)
            ):
                operation = operation or definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
    return operation, fragments


def _forbidden_literals(query: str, ctx: ExecutionContext) -> bool:
    """Whether a string literal of the document (a default value included) holds NUL or a
    lone surrogate once its escapes are read; remembered per document text."""
    cached = _LITERALS.get(query)
    if cached is None:
        found = False
        if ctx.graphql_document is not None:
            for node in _string_values(ctx.graphql_document):
                if forbidden_text(node.value):
                    found = True
                    break
        if len(_LITERALS) >= 1024:
            _LITERALS.clear()
        _LITERALS[query] = cached = found
    return cached


_LITERALS: dict[str, bool] = {}


def _string_values(document: DocumentNode) -> Iterator[StringValueNode]:
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            yield node
        elif isinstance(node, Node):
            for key in node.keys:
                value = getattr(node, key, None)
                if isinstance(value, Node):
                    stack.append(value)
                elif isinstance(value, tuple | list):
                    stack.extend(v for v in value if isinstance(v, Node))


def _unauthenticated(message: str = AUTHENTICATION_REQUIRED) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.UNAUTHENTICATED.value})


def hide_suggestions(message: str) -> str:
    """The message without its "Did you mean ...?" hints (they name fields, arguments,
    types and enum values of the schema)."""
    return SUGGESTION.sub("", message)


class AuthenticationGate(SchemaExtension):
    """Deny by default: without a (valid) viewer, only `__typename` is answered, and
    introspection where it is open (`Settings.introspection_mode`, dev by default);
    anything else is refused before execution with UNAUTHENTICATED (a new root field is
    protected without anyone remembering to protect it).

    Where introspection is not open (prod), an anonymous request learns nothing of the
    schema either: an operation other than a plain `{ __typename }` (no variables, valid)
    gets UNAUTHENTICATED instead of its validation messages, which name the fields, types
    and enum values it tried and suggest the real ones (threat: mapping the schema
    without a token).

    Over a WebSocket, an operation of a session whose token expired (app's clock) or that
    has ended is refused too (threat: a socket that outlives its rights)."""

    def on_validate(self) -> Iterator[None]:
        # Listed after ValidationCache, which has set the validation errors by now; a new
        # list replaces them (the cached one is shared by every request of the document).
        ctx = self.execution_context
        operation, _ = _operation(ctx)
        if (
            not ctx.pre_execution_errors
            and operation is not None
            and operation.operation is OperationType.SUBSCRIPTION
            and not isinstance(ctx.context, LiveContext)
        ):
            ctx.pre_execution_errors = [
                GraphQLError(
                    "Subscriptions run over a WebSocket at /graphql "
                    "(protocol graphql-transport-ws), not over HTTP.",
                    extensions={"code": ErrorCode.OPERATION_NOT_SUPPORTED.value},
                )
            ]
        if not ctx.pre_execution_errors and (
            forbidden_text(ctx.variables) or _forbidden_literals(ctx.query or "", ctx)
        ):
            # Over the WebSocket as over HTTP (where the edge refuses them earlier).
            ctx.pre_execution_errors = [
                GraphQLError(FORBIDDEN_TEXT, extensions={"code": ErrorCode.BAD_USER_INPUT.value})
            ]
        if (
            getattr(ctx.context, "viewer", None) is None
            and _settings(ctx).introspection_mode is not Introspection.OPEN
        ):
            operation, fragments = _operation(ctx)
            if (
                ctx.pre_execution_errors
                or operation is None
                or operation.variable_definitions
                or _root_fields(operation, fragments) - TYPENAME
            ):
                ctx.pre_execution_errors = [_unauthenticated()]
        yield

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if isinstance(context, LiveContext) and (context.ended is not None or context.expired()):
            ctx.result = ExecutionResult(data=None, errors=[_unauthenticated(SESSION_ENDED)])
        elif getattr(context, "viewer", None) is None:
            allowed = (
                INTROSPECTION
                if _settings(ctx).introspection_mode is Introspection.OPEN
                else TYPENAME
            )
            operation, fragments = _operation(ctx)
            if operation is not None and _root_fields(operation, fragments) - allowed:
                ctx.result = ExecutionResult(data=None, errors=[_unauthenticated()])
        yield


def _settings(ctx: ExecutionContext) -> Settings:
    settings = getattr(ctx.context, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


# The statement counter of the running operation (a subscription's, for its events).
_operation_stats: ContextVar[SqlStats | None] = ContextVar("operation_sql", default=None)


def start_event_cost() -> None:
    """A subscription event begins: its `extensions.sql` counts from here, so it reports
    that event's work for this subscriber only. Threat stopped: an oracle, the count of
    a delivered event also counting the statements spent on earlier events of households
    the subscriber may not see (each one it skipped added its load)."""
    stats = _operation_stats.get()
    if stats is not None:
        stats.statements = 0
        stats.seconds = 0.0


class SqlCost(SchemaExtension):
    """In dev, adds `extensions.sql = {statements, ms}` to every response, so that anyone
    can see what a query costs the database (for a subscription: each event's own
    cost, see `start_event_cost`)."""

    def __init__(self, *, execution_context: Any = None) -> None:
        self._stats: SqlStats | None = None

    def on_operation(self) -> Iterator[None]:
        with count_statements() as stats:
            self._stats = stats
            token = _operation_stats.set(stats)
            try:
                yield
            finally:
                _operation_stats.reset(token)

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
