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

from sqlalchemy import event
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


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        # asyncpg's own statement cache makes repeated loader statements cheap.
        connect_args={
            "server_settings": {
                "application_name": "si-siao-graph",
                # Person search: candidates whose names are this close to the query
                # (resolvers/search.py, the `<%` operator of pg_trgm).
                "pg_trgm.word_similarity_threshold": "0.4",
                # ... and the words of the dictionary close to a typed word (`%`).
                "pg_trgm.similarity_threshold": str(CLOSE_WORD),
                # Many small concurrent requests: a parallel plan only moves the same work
                # to more processes (the work queue's count at a million persons: 11.7 ->
                # 16.4 requests/s without it, bench/README.md).
                "max_parallel_workers_per_gather": "0",
            }
        },
    )
    _instrument(engine)
    return engine


def _instrument(engine: AsyncEngine) -> None:
    sync = engine.sync_engine

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
