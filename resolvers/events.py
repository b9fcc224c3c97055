"""Live events across server processes, through PostgreSQL LISTEN/NOTIFY.

Writers call `notify(...)` inside their transaction: PostgreSQL delivers the message to
every listening connection only if and when the transaction commits (no event without
its change). Each server process keeps one listening connection (`EventBus`) and fans
the events out to its subscribers; subscription resolvers then load the object through
the subscriber's own scoped loaders, so an event about a household the subscriber may
not see is simply never delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

CHANNEL = "siao_events"
QUEUE_SIZE = 1000


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


class EventBus:
    """One LISTEN connection per process, fanned out to in-process subscriber queues."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: asyncpg.Connection | None = None
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._url)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

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
        if self._conn is None:
            raise RuntimeError("the event bus is not started")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
