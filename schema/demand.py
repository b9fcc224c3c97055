"""Demands (requests for shelter)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import demand as resolve
from resolvers.loaders import Later, now_or_later, then
from schema.enums import DemandKind, DemandStatus, PlaceType, to_schema
from schema.household import Household, household_from_row
from schema.info import Info
from schema.node import Node, encode_id
from schema.orientation import Orientation, Stay, orientation_from_row, stay_from_row
from schema.permissions import sensitive
from schema.person import Person, persons_from_rows


@strawberry.type(
    description="A request for shelter: emergency (115, tonight) or insertion (longer term)."
)
class Demand(Node):
    kind: DemandKind = strawberry.field(description="Emergency or insertion.")
    status: DemandStatus = strawberry.field(description="Where the demand stands.")
    version: int = strawberry.field(description="Edit counter of the demand.")
    priority: int = strawberry.field(
        description="1 (most urgent) to 4 (can wait); orders the SIAO work queue."
    )
    submitted_at: datetime | None = strawberry.field(
        description="When it was (last) submitted to the SIAO: its waiting time counts from here."
    )
    night: date | None = strawberry.field(
        description="Emergency demands: the night the shelter is for."
    )
    recommended_place_type: PlaceType | None = strawberry.field(
        description="Insertion demands: the recommended kind of accommodation."
    )
    commission_date: date | None = strawberry.field(
        description="Insertion demands: the date of the commission that examines it."
    )
    created_at: datetime = strawberry.field(description="When the demand was made.")
    updated_at: datetime = strawberry.field(description="When the demand last changed.")
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @sensitive(Category.DEMANDS, "The members the demand concerns (a subset of the household).")
    def concerned_persons(self, info: Info) -> Later[list[Person] | None]:
        return then(resolve.concerned_persons(info.context, self.row_id), persons_from_rows)

    @sensitive(Category.DEMANDS, "The orientations proposed for this demand, oldest first.")
    def orientations(self, info: Info) -> Later[list[Orientation] | None]:
        return then(
            now_or_later(info.context.loaders.orientations_by_demand, self.row_id),
            lambda rows: [x for x in map(orientation_from_row, rows) if x is not None],
        )

    @sensitive(Category.DEMANDS, "The stays this demand led to (a night for the 115).")
    def stays(self, info: Info) -> Later[list[Stay] | None]:
        return then(
            now_or_later(info.context.loaders.stays_by_demand, self.row_id),
            lambda rows: [x for x in map(stay_from_row, rows) if x is not None],
        )

    @strawberry.field(description="The household that carries the demand.")
    def household(self, info: Info) -> Later[Household | None]:
        return then(resolve.household(info.context, self.household_id), household_from_row)


def demand_from_row(row: Row[Any] | None) -> Demand | None:
    if row is None:
        return None
    return Demand(
        id=encode_id("Demand", row.id),
        kind=to_schema(DemandKind, row.kind),
        status=to_schema(DemandStatus, row.status),
        version=row.version,
        priority=row.priority,
        submitted_at=row.submitted_at,
        night=row.night,
        recommended_place_type=(
            to_schema(PlaceType, row.recommended_place_type) if row.recommended_place_type else None
        ),
        commission_date=row.commission_date,
        created_at=row.created_at,
        updated_at=row.updated_at,
        row_id=row.id,
        household_id=row.household_id,
    )
