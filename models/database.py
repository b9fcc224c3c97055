"""Engine, connections and the per-request SQL statement counter.

Reads run on an AUTOCOMMIT connection (no BEGIN/ROLLBACK round trips around a
read-only request); writes run in one explicit transaction per mutation, committed or
rolled back in one place (`resolvers.context.Context.transaction`).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.person import CLOSE_WORD


@dataclass
class SqlStats:
    """Statements sent and time spent in the database for one request."""

    statements: int = 0
    seconds: float = 0.0

    @property
    def ms(self) -> float:
        return round(self.seconds * 1000, 2)


_stats: contextvars.ContextVar[SqlStats | None] = contextvars.ContextVar("sql_stats", default=None)


@contextmanager
def count_statements() -> Iterator[SqlStats]:
    """Count the SQL statements of everything run in this context (and tasks it spawns)."""
    stats = SqlStats()
    token = _stats.set(stats)
    try:
        yield stats
    finally:
        _stats.reset(token)


def async_url(url: str) -> URL:
    """Accept the usual `postgresql://` form and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


# Beyond the server's own statement timeout, how long the client waits for an answer: the
# server cancels a slow statement first (a clean error, the connection stays usable); the
# client's bound only fires when the server cannot answer at all (paused, partitioned).
CLIENT_TIMEOUT_MARGIN = 1.0


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    connect_timeout: float = 5.0,
    pool_timeout: float = 5.0,
    statement_timeout: float = 5.0,
) -> AsyncEngine:
    """The engine, with every wait on the database bounded (seconds): opening a connection
    (`connect_timeout`), waiting for one of the pool (`pool_timeout`), and one statement
    (`statement_timeout`, enforced by the server, and by the client a little later for a
    server that cannot enforce anything). A database paused, partitioned or overloaded
    then fails a request within these bounds (an error that
    `resolvers.errors.database_unavailable` recognises: 503) instead of holding it. On a
    paused server a statement fails after `statement_timeout` + `CLIENT_TIMEOUT_MARGIN`,
    plus up to 2 s while SQLAlchemy closes the connection it gives up on."""
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # A ping before each checkout costs a round trip (three outside a transaction:
        # BEGIN, ping, ROLLBACK), ~0.5 ms per request here; `_skip_closed_connections`
        # costs nothing and catches what a restart leaves.
        pool_pre_ping=False,
        # asyncpg's own statement cache makes repeated loader statements cheap.
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": statement_timeout + CLIENT_TIMEOUT_MARGIN,
            "server_settings": {
                "application_name": "si-siao-graph",
                "statement_timeout": str(round(statement_timeout * 1000)),
                # Person search: candidates whose names are this close to the query
                # (resolvers/search.py, the `<%` operator of pg_trgm).
                "pg_trgm.word_similarity_threshold": "0.4",
                # ... and the words of the dictionary close to a typed word (`%`).
                "pg_trgm.similarity_threshold": str(CLOSE_WORD),
                # Many small concurrent requests: a parallel plan only moves the same work
                # to more processes (the work queue's count at a million persons: 11.7 ->
                # 16.4 requests/s without it, bench/README.md).
                "max_parallel_workers_per_gather": "0",
            },
        },
    )
    _skip_closed_connections(engine)
    _instrument(engine)
    return engine


def _skip_closed_connections(engine: AsyncEngine) -> None:
    """After a database restart (or a crash), every pooled connection is dead: the server
    closed its end and asyncpg knows it (`is_closed()`, no round trip). Such a connection
    is replaced at checkout instead of failing the request that drew it, so that no
    request fails once the database is back (measured on 12 concurrent requests right
    after a fast stop or a kill -9 and a restart: 1 failed without this, the one whose
    error then invalidated the pool; none with it). A connection that died without a word
    (a network partition) still fails its request once, and the pool is then renewed."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed this connection")


def _instrument(engine: AsyncEngine) -> None:
    sync = engine.sync_engine

    @event.listens_for(sync, "handle_error")
    def _failed(context: Any) -> None:
        # A failed statement has no "after": forget its start, or each failure would leave
        # one on its pooled connection for good.
        conn = context.connection
        if conn is not None and conn.info.get("query_start"):
            conn.info["query_start"].pop()

    @event.listens_for(sync, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(sync, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        started = conn.info["query_start"].pop()
        stats = _stats.get()
        if stats is not None:
            stats.statements += 1
            stats.seconds += time.perf_counter() - started
