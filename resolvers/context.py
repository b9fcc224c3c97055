"""The per-request context: viewer, row scope, database access and fresh dataloaders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader
from sqlalchemy import Executable, Result, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from auth.policy import Category
from auth.scope import HouseholdScope, household_scope
from auth.settings import Settings
from auth.viewer import Viewer
from models import AccessEvent
from resolvers.errors import CodedError, ErrorCode

if TYPE_CHECKING:
    from resolvers.events import EventBus
    from resolvers.loaders import Loaders


Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    request_id: str
    viewer: Viewer | None
    events: EventBus | None = None
    # WebSocket connections: the connection_init payload, and how to turn its token into
    # a viewer (set by the HTTP layer).
    connection_params: dict[str, Any] | None = None
    authenticate: Callable[[str], Awaitable[Viewer | None]] | None = None
    # The app's clock, read once per request into `now` (see there); tests give the app
    # a clock they can move instead of sleeping.
    clock: Clock = system_clock
    # The process's search slots (`Settings.search_concurrency`), shared by its requests.
    search_slots: asyncio.Semaphore | None = None
    _read_conn: AsyncConnection | None = field(default=None, init=False)
    # One asyncpg connection runs one statement at a time; loaders dispatched in the same
    # tick take turns.
    _read_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _closed: bool = field(default=False, init=False)
    # (household id, category) pairs of sensitive data read during this request.
    accessed: set[tuple[uuid.UUID, Category]] = field(default_factory=set, init=False)

    @cached_property
    def loaders(self) -> Loaders:
        from resolvers.loaders import Loaders

        return Loaders(self)

    def fresh_loaders(self) -> None:
        """Forget every loaded row (a long-lived subscription before each event)."""
        self.__dict__.pop("loaders", None)

    @property
    def authenticated(self) -> Viewer:
        if self.viewer is None:
            raise CodedError(ErrorCode.UNAUTHENTICATED, "Authentication required.")
        return self.viewer

    @cached_property
    def now(self) -> datetime:
        """The request's instant, read once from the app's injectable clock (`clock`):
        every rule of the request that depends on the time compares with it, in Python or
        passed to SQL as a parameter: a note's pin is active until its date, a birth date
        or a situation's date is not in the future, an emergency demand is for tonight, a
        download link expires. A live session, longer than one instant, reads the same
        clock again before each event (`resolvers.events`). Nothing else reads a clock to
        decide a rule.

        The database's clock dates what is recorded, not what is decided: the instant a
        write records (`resolvers.writes.write_instant`, read under the write's locks so
        that serialised writes of every process are ordered) and the columns' server
        defaults (`created_at`). So what is current of a recorded history is judged
        without this instant: the members now are the open memberships
        (`resolvers.household.current`), and the accompaniments that make a household a
        social worker's are those the database's `now()` falls in (`auth.scope`): what a
        mutation just recorded is current in its own answer, whenever the request read
        its clock (a test's clock may be frozen before the write)."""
        instant = self.clock()
        if instant.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return instant

    @cached_property
    def scope(self) -> HouseholdScope:
        return household_scope(self.authenticated)

    async def execute(self, statement: Executable) -> Result[Any]:
        """Run a read on this request's AUTOCOMMIT connection (no BEGIN/ROLLBACK)."""
        async with self._read_lock:
            if self._closed:
                # A loader batch that outlived its request (graphql-core stops waiting for
                # sibling fields once a non-null one fails): it runs on a connection of its
                # own, returned at once, instead of one that nobody would ever close.
                async with self.engine.connect() as conn:
                    autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    return await autocommit.execute(statement)
            if self._read_conn is None:
                conn = await self.engine.connect()
                self._read_conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            elif self._read_conn.invalidated:
                # An earlier read of this request lost the connection (the database went
                # away or timed out): SQLAlchemy would refuse the next one with
                # PendingRollbackError, which says nothing of the cause. Say it is the
                # database, so the client is told to retry (503) instead of "a bug".
                raise ConnectionError("the request's database connection was lost")
            return await self._read_conn.execute(statement)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The one commit point of a mutation: committed on success, rolled back on any
        exception (so a refusal raised half-way leaves no half-written rows).

        Once committed, the loaders forget what they read: the payload, and the next
        mutation of the same document, see the database as it is now, not rows cached
        before the write (a household whose accompaniment just ended no longer reads)."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            async with session.begin():
                yield session
            self.fresh_loaders()

    @asynccontextmanager
    async def search_slot(self) -> AsyncIterator[None]:
        """Held while a person search runs its statements."""
        if self.search_slots is None:
            yield
            return
        async with self.search_slots:
            yield

    def note_access(self, household_id: uuid.UUID, category: Category) -> None:
        self.accessed.add((household_id, category))

    async def flush_access_log(self) -> None:
        """One access event per (viewer, household, category) of this request, in one
        INSERT, committed on its own (a read is logged even if nothing else is written)."""
        if not self.accessed or self.viewer is None:
            return
        viewer = self.viewer
        rows = [
            {
                "id": uuid.uuid4(),
                "viewer_id": viewer.user_id,
                "viewer_label": viewer.display_name,
                "household_id": household_id,
                "category": category.value,
                "request_id": self.request_id,
            }
            for household_id, category in sorted(self.accessed)
        ]
        self.accessed.clear()
        async with self.engine.begin() as conn:
            await conn.execute(insert(AccessEvent), rows)

    async def release(self) -> None:
        """Returns the read connection to the pool now (the next read takes another): after
        authentication, so that a request whose body is still coming holds none."""
        async with self._read_lock:
            if self._read_conn is not None:
                conn, self._read_conn = self._read_conn, None
                await conn.close()

    async def close(self) -> None:
        # Drop the loaders and their caches now: they and the context reference each other,
        # and thousands of rows per request would otherwise wait for a GC cycle.
        loaders = self.__dict__.pop("loaders", None)
        if loaders is not None:
            for loader in vars(loaders).values():
                if isinstance(loader, DataLoader):
                    loader.clear_all()
        self._closed = True
        async with self._read_lock:  # not under a statement still running on it
            if self._read_conn is not None:
                conn, self._read_conn = self._read_conn, None
                await conn.close()
