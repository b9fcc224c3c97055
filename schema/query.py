"""The root Query."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.utils.await_maybe import await_maybe

from auth.policy import Category
from models import DemandKind as _DemandKind
from models import DemandStatus as _DemandStatus
from models import PlaceType as _PlaceType
from resolvers import household as households_resolve
from resolvers import organisation as organisation_resolve
from resolvers import queue as queue_resolve
from resolvers import structure as structure_resolve
from resolvers.errors import CodedError, ErrorCode, bad_input
from resolvers.node import load_node
from resolvers.pagination import DEFAULT_PAGE
from resolvers.prefetch import prefetch, prefetch_connection
from resolvers.queue import QueueOrder as _QueueOrder
from schema.accompaniment import accompaniment_from_row
from schema.attachment import attachment_from_row
from schema.audit import audit_event_from_row
from schema.demand import Demand, demand_from_row
from schema.enums import DemandKind, DemandStatus, PlaceType, QueueOrder
from schema.evaluation import evaluation_from_row
from schema.household import Household, household_from_row, membership_from_row
from schema.info import Info
from schema.node import After, Connection, First, Node, connection_of, decode_id, decode_uuid
from schema.note import note_from_row
from schema.organisation import (
    Me,
    organisation_from_row,
    territory_from_row,
    user_from_row,
)
from schema.orientation import orientation_from_row, stay_from_row
from schema.permissions import sensitive
from schema.person import person_from_row
from schema.search import SearchQuery
from schema.structure import Structure, place_from_row, structure_from_row

_CONVERT: dict[str, Callable[[Any], Node | None]] = {
    "Household": household_from_row,
    "Person": person_from_row,
    "Demand": demand_from_row,
    "AuditEvent": audit_event_from_row,
    "User": user_from_row,
    "Organisation": organisation_from_row,
    "Territory": territory_from_row,
    "Membership": lambda row: None if row is None else membership_from_row(row),
    "Structure": structure_from_row,
    "Place": place_from_row,
    "Orientation": orientation_from_row,
    "Stay": stay_from_row,
    "Evaluation": evaluation_from_row,
    "Note": note_from_row,
    "Attachment": attachment_from_row,
    "Accompaniment": accompaniment_from_row,
}
MAX_NODES = 100


def _enum_value(member: Any) -> str:
    """The string value of a GraphQL enum member (generated enums wrap their values)."""
    value = member.value
    return str(getattr(value, "value", value))


async def _nodes(info: Info, global_ids: list[str]) -> list[Node | None]:
    """Objects by global id, with their selected relations prefetched per type."""
    decoded = [decode_id(gid) for gid in global_ids]
    if any(t not in _CONVERT for t, _ in decoded):
        raise bad_input("This id names no object `node` can fetch.", field="id")
    rows = await asyncio.gather(
        *(await_maybe(load_node(info.context, t, raw)) for t, raw in decoded)
    )
    selections = info.selected_fields[0].selections
    by_type: dict[str, list[Any]] = {}
    for (type_name, _), row in zip(decoded, rows, strict=True):
        if row is not None:
            by_type.setdefault(type_name, []).append(row)
    await asyncio.gather(
        *(prefetch(info.context, selections, t, group) for t, group in by_type.items())
    )
    return [_CONVERT[t](row) for (t, _), row in zip(decoded, rows, strict=True)]


@strawberry.input(description="Narrows the list of structures.")
class StructureFilter:
    territory: str | None = strawberry.field(
        default=None, description="Territory code (only yours answers)."
    )
    place_type: PlaceType | None = strawberry.field(
        default=None, description="Only structures with places of this type."
    )
    has_vacancy: bool | None = strawberry.field(
        default=None,
        description="Only structures with (true) or without (false) a vacancy in those places.",
    )


@strawberry.input(description="Narrows the SIAO work queue.")
class DemandFilter:
    territory: str | None = strawberry.field(default=None, description="Territory code.")
    kind: DemandKind | None = strawberry.field(default=None, description="Emergency or insertion.")
    status: list[DemandStatus] | None = strawberry.field(
        default=None, description="Statuses (default: SUBMITTED, IN_REVIEW, REFUSED)."
    )
    priority: int | None = strawberry.field(default=None, description="Only this priority (1-4).")
    waiting_since: datetime | None = strawberry.field(
        default=None, description="Only demands submitted at or before this instant."
    )


@strawberry.input(description="Narrows the list of households.")
class HouseholdFilter:
    territory: str | None = strawberry.field(
        default=None, description="Only households of this territory code."
    )


@strawberry.type(
    description="Entry points for reading the household graph. Every answer is limited to "
    "what your token may see; anything else reads as not found."
)
class Query(SearchQuery):
    @strawberry.field(
        description="Structures of your territory and their places: where is there a place "
        "tonight? (`filter: {placeType: EMERGENCY, hasVacancy: true}`)."
    )
    async def structures(
        self,
        info: Info,
        filter: Annotated[
            StructureFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
    ) -> list[Structure]:
        f = filter or StructureFilter()
        rows = await structure_resolve.structures(
            info.context,
            f.territory,
            _PlaceType(_enum_value(f.place_type)) if f.place_type else None,
            f.has_vacancy,
        )
        await prefetch(info.context, info.selected_fields[0].selections, "Structure", rows)
        return [s for s in (structure_from_row(r) for r in rows) if s is not None]

    @sensitive(
        Category.DEMANDS,
        "The SIAO work queue: demands waiting to be processed (submitted, in review or "
        "refused), most urgent or longest waiting first.",
    )
    async def demands(
        self,
        info: Info,
        filter: Annotated[
            DemandFilter | None, strawberry.argument(description="Narrows the queue.")
        ] = None,
        order_by: Annotated[
            QueueOrder, strawberry.argument(description="Order of the queue.")
        ] = QueueOrder.PRIORITY,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[Demand] | None:
        f = filter or DemandFilter()
        page = await queue_resolve.work_queue(
            info.context,
            territory=f.territory,
            kind=_DemandKind(_enum_value(f.kind)) if f.kind else None,
            statuses=[_DemandStatus(_enum_value(s)) for s in f.status] if f.status else None,
            priority=f.priority,
            waiting_since=f.waiting_since,
            order=_QueueOrder(_enum_value(order_by)),
            first=first,
            after=after,
        )
        await prefetch_connection(
            info.context, info.selected_fields[0].selections, "Demand", page.rows
        )
        return connection_of(page, demand_from_row)

    @strawberry.field(
        description="Any object by its global id; null if it does not exist or you may not see it."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        (found,) = await _nodes(info, [id])
        return found

    @strawberry.field(
        description="Several objects by global id, in the same order; null where not visible."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global ids (at most 100).")
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise bad_input(f"At most {MAX_NODES} ids at once.", field="ids")
        return await _nodes(info, list(ids))

    @strawberry.field(
        description="Who you are, according to your token: a person's account (a partner "
        "system has none: FORBIDDEN)."
    )
    async def me(self, info: Info) -> Me:
        viewer = info.context.authenticated
        user = user_from_row(await organisation_resolve.viewer_row(info.context))
        if user is None:  # a partner system: its token names it, it has no user account
            raise CodedError(
                ErrorCode.FORBIDDEN,
                "`me` describes a person's account; a partner system has none.",
            )
        return Me(
            id=user.id,
            display_name=viewer.display_name,
            role=viewer.role,
            organisation_id=viewer.organisation_id,
            login=viewer.login,
            territory_code=viewer.territory_code,
        )

    @strawberry.field(
        description="One household, by global `id` or by its 10-digit `reference` (give one)."
    )
    async def household(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The household's global id.")
        ] = None,
        reference: Annotated[
            str | None, strawberry.argument(description="The 10-digit household reference.")
        ] = None,
    ) -> Household | None:
        if (id is None) == (reference is None):
            raise bad_input("Give exactly one of `id` and `reference`.")
        if id is not None:
            value = households_resolve.household(info.context, decode_uuid(id, "Household"))
        else:
            assert reference is not None
            value = households_resolve.household_by_reference(info.context, reference.strip())
        row = await await_maybe(value)
        if row is not None:
            await prefetch(info.context, info.selected_fields[0].selections, "Household", [row])
        return household_from_row(row)

    @strawberry.field(description="The households you may see, ordered by reference.")
    async def households(
        self,
        info: Info,
        filter: Annotated[
            HouseholdFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[Household]:
        page = await households_resolve.households(
            info.context, filter.territory if filter else None, first, after
        )
        await prefetch_connection(
            info.context, info.selected_fields[0].selections, "Household", page.rows
        )
        return connection_of(page, household_from_row)
