"""Errors a client can act on. Business refusals of mutations are `userErrors` in the
payload (see each mutation's code enum); everything here is a GraphQL error whose
`extensions.code` tells what went wrong. Anything else is masked (see schema.errors)."""

from __future__ import annotations

from contextvars import ContextVar
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # The database cannot be reached now (down, restarting, paused): retry later.
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # The request itself is malformed (body not JSON, not UTF-8, too deep, wrong shape).
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # A subscription sent over HTTP (they run over a WebSocket).
    OPERATION_NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    # The document could return more objects than `SIAO_MAX_NODES` (schema/cost.py).
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"


class CodedError(Exception):
    """An error whose message is safe to show; its code lands in `extensions.code`."""

    def __init__(self, code: ErrorCode, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extensions: dict[str, Any] = {"code": code.value, **extra}


def bad_input(message: str, **extra: Any) -> CodedError:
    return CodedError(ErrorCode.BAD_USER_INPUT, message, **extra)


# The request id of the request being served: set by the HTTP layer, shown in masked
# errors and in every log line, so that a client's report leads to the log.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it wraps) means the database cannot serve now: down,
    restarting, refusing connections, too slow (a timeout), or the pool exhausted. Such a
    failure is answered 503 `SERVICE_UNAVAILABLE` with `Retry-After`, not as a bug."""
    import asyncpg
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(
            exc,
            OSError  # refused, reset, unreachable (ConnectionError is one)
            | TimeoutError  # connect, pool checkout or statement timeout (asyncio's too)
            | sa_exc.TimeoutError  # the pool had no connection to give in time
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError  # the connection closed under us
            | asyncpg.CannotConnectNowError  # starting up, shutting down, recovering
            | asyncpg.AdminShutdownError
            | asyncpg.CrashShutdownError
            | asyncpg.TooManyConnectionsError
            | asyncpg.QueryCanceledError,  # statement_timeout
        ):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def failure_chain(exc: BaseException | None) -> str:
    """What a database failure was, for the log: each wrapped exception's class, and the
    SQLSTATE where there is one (never the message: it may quote parameters)."""
    names: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(names) < 5:
        seen.add(id(exc))
        state = getattr(exc, "sqlstate", None)
        names.append(type(exc).__name__ + (f"[{state}]" if state else ""))
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return " <- ".join(names) or "-"
