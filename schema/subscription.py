"""Live updates (graphql-transport-ws): the work queue and the structures' inboxes.

Events cross server processes through PostgreSQL LISTEN/NOTIFY (`resolvers.events`). Each
event is loaded through the subscriber's own scoped loaders before it is sent: a
subscriber never receives anything about a household it may not see. Before each event
the session's rights are checked again (token expiry on the app's clock, the account and
its role as the users table has them now, the subscription's own condition); when they
have ended, the socket is closed (4403, with the reason) instead of delivering.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Annotated, Any

import strawberry

from auth.policy import Category
from auth.viewer import Viewer
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode
from resolvers.events import RIGHTS_CHANGED, LiveContext, recheck
from schema.demand import Demand, demand_from_row
from schema.extensions import start_event_cost
from schema.info import Info
from schema.node import decode_uuid
from schema.orientation import Orientation, orientation_from_row
from schema.permissions import sensitive_subscription


async def _events(
    ctx: Context, kind: str, key: str, value: str, still_allowed: Callable[[Viewer], bool]
) -> AsyncGenerator[Any, None]:
    """Rows of `kind` whose event field `key` equals `value`, loaded in the viewer's scope,
    while the session's rights last and `still_allowed(viewer)` holds."""
    if ctx.events is None or not isinstance(ctx, LiveContext):
        raise CodedError(ErrorCode.INTERNAL_SERVER_ERROR, "Live updates are not available.")
    loader_name = {"demand": "demand_by_id", "orientation": "orientation_by_id"}[kind]
    async with ctx.events.subscribe() as queue:
        while True:
            await ctx.close()  # hold no database connection while waiting
            event = await queue.get()
            if event.get("kind") != kind or event.get(key) != value:
                continue
            start_event_cost()  # extensions.sql: this event's work, nothing before it
            ctx.next_event()
            if not await recheck(ctx):
                await ctx.until_closed()
            if not still_allowed(ctx.authenticated):
                await ctx.end_session(RIGHTS_CHANGED)
                await ctx.until_closed()
            row = await getattr(ctx.loaders, loader_name).load(uuid.UUID(event[kind]))
            if row is None:  # out of the subscriber's scope
                continue
            if ctx.ended is not None:  # ended (by the periodic check) while loading
                await ctx.until_closed()
            yield row


@strawberry.type(
    description="Live updates over WebSocket (graphql-transport-ws). Send your token in the "
    'connection_init payload: `{"Authorization": "Bearer <token>"}`.'
)
class Subscription:
    @sensitive_subscription(
        Category.DEMANDS,
        "Every change to a demand of a territory (created, submitted, oriented, placed...), "
        "as it happens: keeps the SIAO work queue live. Only demands of households you may "
        "see are sent.",
    )
    async def demand_changed(
        self,
        info: Info,
        territory: Annotated[str, strawberry.argument(description="Territory code, e.g. 75.")],
    ) -> AsyncGenerator[Demand | None, None]:
        def still_allowed(viewer: Viewer) -> bool:
            return viewer.may(Category.DEMANDS)

        events = _events(info.context, "demand", "territory", territory, still_allowed)
        async with aclosing(events):
            async for row in events:
                yield demand_from_row(row)

    @strawberry.subscription(
        description="Orientations proposed to a structure you manage, as they arrive."
    )
    async def orientation_proposed(
        self,
        info: Info,
        structure_id: Annotated[
            strawberry.ID, strawberry.argument(description="The structure (global id).")
        ],
    ) -> AsyncGenerator[Orientation | None, None]:
        ctx = info.context
        structure = decode_uuid(structure_id, "Structure")
        if ctx.authenticated.organisation_id != structure:
            raise CodedError(ErrorCode.FORBIDDEN, "You do not manage this structure.")

        def still_allowed(viewer: Viewer) -> bool:
            return viewer.organisation_id == structure

        events = _events(ctx, "orientation", "structure", str(structure), still_allowed)
        async with aclosing(events):
            async for row in events:
                yield orientation_from_row(row)
