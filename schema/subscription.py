"""Live updates (graphql-transport-ws): the work queue and the structures' inboxes.

Events cross server processes through PostgreSQL LISTEN/NOTIFY (`resolvers.events`). Each
event is loaded through the subscriber's own scoped loaders before it is sent: a
subscriber never receives anything about a household it may not see.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from auth.policy import Category
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode
from schema.demand import Demand, demand_from_row
from schema.node import decode_uuid
from schema.orientation import Orientation, orientation_from_row
from schema.permissions import sensitive_subscription


async def _events(ctx: Context, kind: str, key: str, value: str) -> AsyncGenerator[Any, None]:
    """Rows of `kind` whose event field `key` equals `value`, loaded in the viewer's scope."""
    if ctx.events is None:
        raise CodedError(ErrorCode.INTERNAL_SERVER_ERROR, "Live updates are not available.")
    loader_name = {"demand": "demand_by_id", "orientation": "orientation_by_id"}[kind]
    async with ctx.events.subscribe() as queue:
        while True:
            await ctx.close()  # hold no database connection while waiting
            event = await queue.get()
            if event.get("kind") != kind or event.get(key) != value:
                continue
            ctx.fresh_loaders()
            row = await getattr(ctx.loaders, loader_name).load(uuid.UUID(event[kind]))
            if row is not None:  # None: out of the subscriber's scope
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
        info: strawberry.Info,
        territory: Annotated[str, strawberry.argument(description="Territory code, e.g. 75.")],
    ) -> AsyncGenerator[Demand | None, None]:
        async for row in _events(info.context, "demand", "territory", territory):
            yield demand_from_row(row)

    @strawberry.subscription(
        description="Orientations proposed to a structure you manage, as they arrive."
    )
    async def orientation_proposed(
        self,
        info: strawberry.Info,
        structure_id: Annotated[
            strawberry.ID, strawberry.argument(description="The structure (global id).")
        ],
    ) -> AsyncGenerator[Orientation | None, None]:
        ctx = info.context
        structure = decode_uuid(structure_id, "Structure")
        if ctx.authenticated.organisation_id != structure:
            raise CodedError(ErrorCode.FORBIDDEN, "You do not manage this structure.")
        async for row in _events(ctx, "orientation", "structure", str(structure)):
            yield orientation_from_row(row)
