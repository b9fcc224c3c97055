"""Structures and their places."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Row

from resolvers.loaders import Later, now_or_later, then
from schema.enums import PlaceType, to_schema
from schema.info import Info
from schema.node import Node, encode_id
from schema.organisation import Territory, territory_from_row


@strawberry.type(description="Places of one type in a structure, with what is free now.")
class Place(Node):
    place_type: PlaceType = strawberry.field(description="The kind of places.")
    capacity: int = strawberry.field(description="Number of places of this type.")
    occupied: int = strawberry.field(description="Places occupied now.")
    vacancies: int = strawberry.field(
        description="Places free now and held by no pending orientation (never below 0)."
    )
    version: int = strawberry.field(
        description="Edit counter; pass it as `expectedVersion` to `declareVacancies`."
    )
    updated_at: datetime = strawberry.field(description="When the counts last changed.")
    structure_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The structure these places belong to.")
    def structure(self, info: Info) -> Later[Structure | None]:
        return then(
            now_or_later(info.context.loaders.structure_by_id, self.structure_id),
            structure_from_row,
        )


@strawberry.type(description="An accommodation structure (CHRS, CHU, hotel...) and its places.")
class Structure(Node):
    name: str = strawberry.field(description="Name of the structure.")
    row_id: strawberry.Private[uuid.UUID]
    territory_code: strawberry.Private[str]

    @strawberry.field(description="The territory of the structure.")
    def territory(self, info: Info) -> Later[Territory | None]:
        return then(
            now_or_later(info.context.loaders.territory_by_code, self.territory_code),
            territory_from_row,
        )

    @strawberry.field(description="Its places, by type.")
    def places(self, info: Info) -> Later[list[Place]]:
        return then(
            now_or_later(info.context.loaders.places_by_structure, self.row_id),
            lambda rows: [x for x in map(place_from_row, rows) if x is not None],
        )


def place_from_row(row: Row[Any] | None) -> Place | None:
    if row is None:
        return None
    return Place(
        id=encode_id("Place", row.id),
        place_type=to_schema(PlaceType, row.place_type),
        capacity=row.capacity,
        occupied=row.occupied,
        vacancies=row.vacancies,
        version=row.version,
        updated_at=row.updated_at,
        structure_id=row.organisation_id,
    )


def structure_from_row(row: Row[Any] | None) -> Structure | None:
    if row is None:
        return None
    return Structure(
        id=encode_id("Structure", row.id),
        name=row.name,
        row_id=row.id,
        territory_code=row.territory_code,
    )
