"""Orientations (the SIAO's proposals to structures) and stays."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers.loaders import Later, now_or_later, then
from schema.enums import ExitReason, OrientationStatus, RefusalReason, to_schema
from schema.info import Info
from schema.node import Node, encode_id
from schema.permissions import sensitive
from schema.structure import Place, place_from_row

if TYPE_CHECKING:
    from schema.demand import Demand

DemandRef = Annotated["Demand", strawberry.lazy("schema.demand")]


@strawberry.type(description="The SIAO's proposal of a demand to a structure's places.")
class Orientation(Node):
    status: OrientationStatus = strawberry.field(description="Where the orientation stands.")
    refusal_reason: RefusalReason | None = strawberry.field(
        description="Why the structure refused; null unless REFUSED."
    )
    comment: str | None = sensitive(Category.DEMANDS, "Free comment of the SIAO or the structure.")
    proposed_at: datetime = strawberry.field(description="When the SIAO proposed it.")
    decided_at: datetime | None = strawberry.field(description="When it was decided.")
    row_id: strawberry.Private[uuid.UUID]
    demand_id: strawberry.Private[uuid.UUID]
    place_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @strawberry.field(description="The places the household is proposed to.")
    def place(self, info: Info) -> Later[Place | None]:
        return then(now_or_later(info.context.loaders.place_by_id, self.place_id), place_from_row)

    @strawberry.field(description="The demand it answers.")
    def demand(self, info: Info) -> Later[DemandRef | None]:
        from schema.demand import demand_from_row

        return then(
            now_or_later(info.context.loaders.demand_by_id, self.demand_id), demand_from_row
        )


@strawberry.type(description="A household hosted in a structure, from admission to exit.")
class Stay(Node):
    valid_from: datetime = strawberry.field(description="Admission.")
    valid_to: datetime | None = strawberry.field(description="Exit; null while hosted.")
    exit_reason: ExitReason | None = strawberry.field(description="Why the stay ended.")
    place_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Where the household is hosted.")
    def place(self, info: Info) -> Later[Place | None]:
        return then(now_or_later(info.context.loaders.place_by_id, self.place_id), place_from_row)


def orientation_from_row(row: Row[Any] | None) -> Orientation | None:
    if row is None:
        return None
    return Orientation(
        id=encode_id("Orientation", row.id),
        status=to_schema(OrientationStatus, row.status),
        refusal_reason=to_schema(RefusalReason, row.refusal_reason) if row.refusal_reason else None,
        comment=row.comment,
        proposed_at=row.proposed_at,
        decided_at=row.decided_at,
        row_id=row.id,
        demand_id=row.demand_id,
        place_id=row.place_id,
        household_id=row.household_id,
    )


def stay_from_row(row: Row[Any] | None) -> Stay | None:
    if row is None:
        return None
    return Stay(
        id=encode_id("Stay", row.id),
        valid_from=row.validity.lower,
        valid_to=row.validity.upper,
        exit_reason=to_schema(ExitReason, row.exit_reason) if row.exit_reason else None,
        place_id=row.place_id,
        household_id=row.household_id,
    )
