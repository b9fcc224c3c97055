"""Demands (requests for shelter)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import demand as resolve
from resolvers import demand_write, organisation
from resolvers.loaders import Later, now_or_later, then
from resolvers.summary import latest_flash_level
from schema.enums import DemandKind, DemandStatus, PlaceType, to_schema
from schema.errors import DemandUserError, user_errors
from schema.household import Household, household_from_row
from schema.info import Info
from schema.node import Node, decode_uuid, encode_id
from schema.organisation import User, user_from_row
from schema.orientation import Orientation, Stay, orientation_from_row, stay_from_row
from schema.permissions import sensitive, writes
from schema.person import Person, persons_from_rows

PRIORITY_NOTE = (
    "The rank is the territory's SIAO's: set when the SIAO creates the demand, or with "
    "`setDemandPriority`; a demand anyone else creates starts at the default, "
    f"{demand_write.DEFAULT_PRIORITY}."
)


@strawberry.type(
    description="A request for shelter: emergency (115, tonight) or insertion (longer term)."
)
class Demand(Node):
    kind: DemandKind = strawberry.field(description="Emergency or insertion.")
    status: DemandStatus = strawberry.field(description="Where the demand stands.")
    version: int = strawberry.field(description="Edit counter of the demand.")
    priority: int = strawberry.field(
        description="1 (most urgent) to 4 (can wait); orders the SIAO work queue. " + PRIORITY_NOTE
    )
    suggested_priority: int | None = strawberry.field(
        description="The priority (1-4) its creator asked for when they were not the SIAO: a "
        "suggestion for the SIAO, which does not order the queue (`priority` does); null if "
        "none was given, or if the SIAO created it."
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
    suggested_by_id: strawberry.Private[uuid.UUID | None]

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

    @strawberry.field(description="Who suggested `suggestedPriority`; null if nobody did.")
    def priority_suggested_by(self, info: Info) -> Later[User | None]:
        if self.suggested_by_id is None:
            return None
        return then(organisation.user(info.context, self.suggested_by_id), user_from_row)

    @sensitive(
        Category.FLASH_EVALUATION,
        "The vulnerability level (1 low to 4 very high) of the household's latest flash "
        "evaluation, shown next to `priority` for the SIAO who ranks it; null if none. A "
        "signal, not a rule: the level does not set the priority (a household at level 4 "
        "with a place tonight may wait; the SIAO weighs it with what it knows), and "
        "recording an evaluation changes no rank.",
    )
    def vulnerability_level(self, info: Info) -> Later[int | None]:
        return latest_flash_level(info.context, self.household_id)

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
        suggested_priority=row.suggested_priority,
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
        suggested_by_id=row.priority_suggested_by,
    )


@strawberry.input(description="The SIAO ranks a demand in its work queue.")
class SetDemandPriorityInput:
    demand_id: strawberry.ID = strawberry.field(description="The demand.")
    priority: int = strawberry.field(description="1 (most urgent) to 4 (can wait).")
    reason: str = strawberry.field(
        description="Why (required, kept in the household's change log for its professionals)."
    )
    expected_version: int = strawberry.field(
        description="The demand's `version` as you read it (stale: STALE_VERSION)."
    )


@strawberry.type(description="Result of `setDemandPriority`.")
class SetDemandPriorityPayload:
    user_errors: list[DemandUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    demand_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The demand, with its new priority and version.")
    def demand(self, info: Info) -> Later[Demand | None]:
        if self.demand_id is None:
            return None
        return then(resolve.demand(info.context, self.demand_id), demand_from_row)


@strawberry.type
class DemandMutations:
    @writes(
        Category.DEMANDS,
        "Set a demand's priority, which orders the work queue at once; audited with the "
        "reason. Its `suggestedPriority` and `vulnerabilityLevel` inform it; neither sets it.",
        name="setDemandPriority",
    )
    async def set_demand_priority(
        self,
        info: Info,
        input: Annotated[SetDemandPriorityInput, strawberry.argument(description="The rank.")],
    ) -> SetDemandPriorityPayload:
        demand_id, problems = await demand_write.set_demand_priority(
            info.context,
            decode_uuid(input.demand_id, "Demand"),
            input.priority,
            input.reason,
            input.expected_version,
        )
        return SetDemandPriorityPayload(
            user_errors=user_errors(DemandUserError, problems), demand_id=demand_id
        )
