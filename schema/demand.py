"""Demands (requests for shelter)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import demand as resolve
from resolvers.loaders import then
from schema.enums import DemandKind, DemandStatus, to_schema
from schema.household import Household, household_from_row
from schema.node import Node, encode_id
from schema.permissions import sensitive
from schema.person import Person, persons_from_rows


@strawberry.type(
    description="A request for shelter: emergency (115, tonight) or insertion (longer term)."
)
class Demand(Node):
    kind: DemandKind = strawberry.field(description="Emergency or insertion.")
    status: DemandStatus = strawberry.field(description="Where the demand stands.")
    version: int = strawberry.field(description="Edit counter of the demand.")
    created_at: datetime = strawberry.field(description="When the demand was made.")
    updated_at: datetime = strawberry.field(description="When the demand last changed.")
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @sensitive(Category.DEMANDS, "The members the demand concerns (a subset of the household).")
    def concerned_persons(self, info: strawberry.Info) -> list[Person] | None:
        return then(resolve.concerned_persons(info.context, self.row_id), persons_from_rows)  # type: ignore[no-any-return]

    @strawberry.field(description="The household that carries the demand.")
    def household(self, info: strawberry.Info) -> Household | None:
        return then(resolve.household(info.context, self.household_id), household_from_row)  # type: ignore[no-any-return]


def demand_from_row(row: Row[Any] | None) -> Demand | None:
    if row is None:
        return None
    return Demand(
        id=encode_id("Demand", row.id),
        kind=to_schema(DemandKind, row.kind),
        status=to_schema(DemandStatus, row.status),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        row_id=row.id,
        household_id=row.household_id,
    )
