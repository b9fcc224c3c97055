"""Live events across server processes, through PostgreSQL LISTEN/NOTIFY, and the live
sessions (WebSocket connections) that receive them.

Writers call `notify(...)` inside their transaction: PostgreSQL delivers the message to
every listening connection only if and when the transaction commits (no event without
its change). Each server process keeps one listening connection (`EventBus`) and fans
the events out to its subscribers; subscription resolvers then load the object through
the subscriber's own scoped loaders, so an event about a household the subscriber may
not see is simply never delivered.

A session lasts as long as its rights: before each event the viewer is read again from
the users table and the token's expiry compared with the app's clock (`recheck`), and the
event bus re-checks every open session of its process on a periodic tick
(`Settings.session_check_seconds`), so that a session without events ends too. A session
whose rights ended is closed with code 4403 and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, RetryCallState, wait_exponential, wait_random

from auth.tokens import Claims
from auth.viewer import Viewer
from resolvers.context import Context
from resolvers.organisation import load_viewer

log = logging.getLogger(__name__)

CHANNEL = "siao_events"
QUEUE_SIZE = 1000
# graphql-transport-ws closes a connection it refuses with 4403 ("Forbidden").
SESSION_ENDED = 4403
TOKEN_EXPIRED = "Session ended: the token expired."
ACCOUNT_DISABLED = "Session ended: the account is disabled."
RIGHTS_CHANGED = "Session ended: your rights changed; subscribe again."


@dataclass(eq=False)
class LiveContext(Context):
    """The context of one WebSocket connection, shared by all its operations, with the
    session's rights: the claims of the token sent in `connection_init` and how to close
    the socket.

    Threat stopped: a socket that outlives its rights (a token that expired, an account
    disabled, a role taken away) and keeps receiving the live updates of households."""

    claims: Claims | None = None
    close_socket: Callable[[int, str], Awaitable[None]] | None = None
    # Why the session ended (None while it lasts).
    ended: str | None = field(default=None, init=False)

    # A session is itself (the event bus keeps a set of them), whatever its fields say.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def expired(self) -> bool:
        """The token's `exp` has passed on the app's clock (no leeway: the session ends
        exactly when the token does)."""
        expires_at = self.claims.expires_at if self.claims is not None else None
        return expires_at is not None and self.clock() >= expires_at

    def next_event(self) -> None:
        """Before each event: nothing loaded for an earlier one is reused, and `now` is
        read again (the socket lives longer than one instant)."""
        self.fresh_loaders()
        self.__dict__.pop("now", None)

    def use_viewer(self, viewer: Viewer) -> None:
        """The viewer as the users table has it now (role, organisation, territory may have
        changed since the socket opened): its row scope is built again."""
        if viewer != self.viewer:
            self.viewer = viewer
            self.__dict__.pop("scope", None)

    async def end_session(self, reason: str) -> None:
        """Closes the socket with 4403 and `reason` (once). The protocol handler then
        cancels the socket's operations."""
        if self.ended is not None:
            return
        self.ended = reason
        log.info("live session closed: %s", reason)
        if self.close_socket is not None:
            with contextlib.suppress(RuntimeError):  # the client closed it first
                await self.close_socket(SESSION_ENDED, reason)

    async def until_closed(self) -> None:
        """Waits for the end of an ended session: its operations are cancelled when the
        socket's close completes; nothing is sent meanwhile."""
        await asyncio.get_running_loop().create_future()


async def recheck(ctx: LiveContext) -> bool:
    """Before an event is delivered: is the session's token still valid on the app's
    clock, and the account still active? Re-reads the viewer from the users table (a
    partner system has none: its token says who it is) and uses it from now on. False
    when the session has ended (the socket is being closed)."""
    if ctx.ended is not None:
        return False
    if ctx.claims is None or ctx.expired():
        await ctx.end_session(TOKEN_EXPIRED)
        return False
    viewer = await load_viewer(ctx, ctx.claims)
    if viewer is None:
        await ctx.end_session(ACCOUNT_DISABLED)
        return False
    ctx.use_viewer(viewer)
    return True


async def notify_demand(
    session: AsyncSession, demand_id: uuid.UUID, household_id: uuid.UUID
) -> None:
    """A demand changed (created, moved along its lifecycle)."""
    await session.execute(
        text(
            "SELECT pg_notify(:channel, json_build_object('kind', 'demand', 'demand', "
            "CAST(:demand AS text), 'territory', territory_code)::text) "
            "FROM households WHERE id = :household"
        ),
        {"channel": CHANNEL, "demand": str(demand_id), "household": household_id},
    )


async def notify_orientation(
    session: AsyncSession, orientation_id: uuid.UUID, structure_id: uuid.UUID
) -> None:
    """An orientation was proposed to a structure."""
    payload = {
        "kind": "orientation",
        "orientation": str(orientation_id),
        "structure": str(structure_id),
    }
    await session.execute(select(func.pg_notify(CHANNEL, json.dumps(payload))))


# The LISTEN connection's reconnection: the first retry after this (seconds), doubling up
# to the cap given to the bus, plus a random part so that the processes that lost it at the
# same instant (every worker of every host) do not all knock at once.
RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_JITTER = 0.2  # of the cap


class EventBus:
    """One LISTEN connection per process, fanned out to in-process subscriber queues; and
    the process's open live sessions, re-checked every `check_seconds`.

    The connection is kept: lost (the server restarted, crashed, or closed it), it is
    opened again with exponential backoff (at most `reconnect_max_seconds` apart), and the
    subscriptions open meanwhile resume on the new one by themselves (their queues stay;
    the events committed while no connection listened are not delivered). A connection
    that dies without a word (a network partition, a NAT forgetting an idle flow) is found
    by a query every `ping_seconds`. `listening` tells /health/ready whether live updates
    work now."""

    def __init__(
        self,
        url: str,
        *,
        check_seconds: float = 30.0,
        connect_timeout: float = 5.0,
        command_timeout: float = 15.0,
        reconnect_max_seconds: float = 5.0,
        ping_seconds: float = 10.0,
    ) -> None:
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: asyncpg.Connection | None = None
        # One statement at a time on the connection (the ping and the session check).
        self._using = asyncio.Lock()
        self._lost = asyncio.Event()
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._subscribed = asyncio.Condition()
        self._sessions: set[LiveContext] = set()
        self._check_seconds = check_seconds
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._reconnect_max = reconnect_max_seconds
        self._ping_seconds = ping_seconds
        self._ticker: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether events reach this process now (false from the loss of the connection
        until it is open and listening again)."""
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Listens, or fails (the database must be reachable when the server starts)."""
        await self._listen()
        self._keeper = asyncio.create_task(self._keep_listening())
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        for task in (self._ticker, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ticker = self._keeper = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=self._connect_timeout)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()  # a paused or vanished server

    async def _listen(self) -> None:
        conn = await asyncpg.connect(
            self._url, timeout=self._connect_timeout, command_timeout=self._command_timeout
        )
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._on_termination)
        self._conn = conn

    def _on_termination(self, conn: object) -> None:
        if conn is self._conn:
            self._lost.set()

    async def _keep_listening(self) -> None:
        """Waits for the loss of the connection (its termination, or a failed ping), then
        opens a new one, for the life of the process."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._ping_seconds)
            if not self._lost.is_set() and await self._answers():
                continue
            await self._reconnect()

    async def _answers(self) -> bool:
        """The ping: whatever makes it fail makes the connection unfit to listen."""
        try:
            async with self._using:
                if self._conn is None:
                    return False
                await self._conn.execute("SELECT 1")
        except Exception as exc:
            log.warning(
                "live updates: the LISTEN connection does not answer (%s)", type(exc).__name__
            )
            return False
        return True

    async def _reconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.remove_termination_listener(self._on_termination)
            conn.terminate()
        self._lost.clear()
        log.warning("live updates stopped: the LISTEN connection was lost; reconnecting")
        started = asyncio.get_running_loop().time()
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=RECONNECT_FIRST_SECONDS, max=self._reconnect_max)
            + wait_random(0, self._reconnect_max * RECONNECT_JITTER),
            before_sleep=_log_failed_attempt,
        )
        async for attempt in retrying:
            with attempt:
                await self._listen()
        elapsed = asyncio.get_running_loop().time() - started
        log.warning("live updates resumed: listening again after %.1f s", elapsed)

    def watch(self, session: LiveContext) -> None:
        """An authenticated socket: re-checked on every tick until `forget`."""
        self._sessions.add(session)

    def forget(self, session: LiveContext) -> None:
        self._sessions.discard(session)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                await self.check_sessions()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live sessions not checked: %s", type(exc).__name__)  # next tick

    async def check_sessions(self) -> None:
        """Ends the open sessions whose token expired (app's clock) or whose account is no
        longer active: one statement for all the sessions of the process."""
        open_sessions = [s for s in self._sessions if s.ended is None]
        for session in open_sessions:
            if session.claims is None or session.expired():
                await session.end_session(TOKEN_EXPIRED)
        users = {
            s: s.claims.subject
            for s in open_sessions
            if s.ended is None and s.claims is not None and s.claims.partner is None
        }
        if not users:
            return
        async with self._using:
            if self._conn is None:  # reconnecting: checked on the next tick
                return
            rows = await self._conn.fetch(
                "SELECT login FROM users WHERE login = ANY($1::text[]) AND active",
                sorted(set(users.values())),
            )
        active = {row["login"] for row in rows}
        for session, login in users.items():
            if login not in active:
                await session.end_session(ACCOUNT_DISABLED)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        try:
            event = json.loads(str(payload))
        except ValueError:
            log.warning("ignored a malformed event on %s", channel)
            return
        for queue in self._queues:
            if queue.full():  # a subscriber that does not read loses its oldest event
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        if self._keeper is None:
            raise RuntimeError("the event bus is not started")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        async with self._subscribed:
            self._subscribed.notify_all()
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def wait_for_subscribers(self, count: int) -> None:
        """Returns once at least `count` subscriptions listen in this process: events
        sent from then on reach them (a test, or a smoke check after a deployment)."""
        async with self._subscribed:
            await self._subscribed.wait_for(lambda: len(self._queues) >= count)


def _log_failed_attempt(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "live updates: reconnection attempt %d failed (%s); next in %.1f s",
        state.attempt_number,
        type(failure).__name__,
        state.upcoming_sleep,
    )
