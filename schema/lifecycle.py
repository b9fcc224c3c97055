"""Mutations that move a demand along its lifecycle, and declaring vacancies."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry

from auth.policy import DemandAction
from models import ExitReason as _ExitReason
from models import RefusalReason as _RefusalReason
from resolvers import lifecycle_write as write
from resolvers import structure_write
from resolvers.errors import bad_input
from resolvers.lifecycle_write import Acted
from resolvers.loaders import Later, now_or_later, then
from schema.demand import Demand, demand_from_row
from schema.enums import ExitReason, RefusalReason
from schema.errors import DemandUserError, user_errors
from schema.info import Info
from schema.node import decode_uuid
from schema.orientation import Orientation, Stay, orientation_from_row, stay_from_row
from schema.permissions import performs
from schema.structure import Place, place_from_row


def _value(member: Any) -> str:
    value = member.value
    return str(getattr(value, "value", value))


@strawberry.type(description="Result of a lifecycle mutation.")
class DemandLifecyclePayload:
    user_errors: list[DemandUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    demand_id: strawberry.Private[uuid.UUID | None]
    orientation_id: strawberry.Private[uuid.UUID | None]
    stay_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The demand, in its new status.")
    def demand(self, info: Info) -> Later[Demand | None]:
        if self.demand_id is None:
            return None
        return then(
            now_or_later(info.context.loaders.demand_by_id, self.demand_id), demand_from_row
        )

    @strawberry.field(description="The orientation created or decided, if any.")
    def orientation(self, info: Info) -> Later[Orientation | None]:
        if self.orientation_id is None:
            return None
        return then(
            now_or_later(info.context.loaders.orientation_by_id, self.orientation_id),
            orientation_from_row,
        )

    @strawberry.field(description="The stay opened or closed, if any.")
    def stay(self, info: Info) -> Later[Stay | None]:
        if self.stay_id is None:
            return None
        return then(now_or_later(info.context.loaders.stay_by_id, self.stay_id), stay_from_row)


def payload(acted: Acted) -> DemandLifecyclePayload:
    return DemandLifecyclePayload(
        user_errors=user_errors(DemandUserError, acted.problems or []),
        demand_id=None if acted.problems else acted.demand_id,
        orientation_id=acted.orientation_id,
        stay_id=acted.stay_id,
    )


@strawberry.input(description="Which demand, as you read it.")
class DemandActionInput:
    demand_id: strawberry.ID = strawberry.field(description="The demand.")
    expected_version: int | None = strawberry.field(
        default=None, description="The demand's `version` as you read it (stale: STALE_VERSION)."
    )


@strawberry.input(description="Propose a demand to a structure's places.")
class ProposeOrientationInput:
    demand_id: strawberry.ID = strawberry.field(description="The demand.")
    place_id: strawberry.ID = strawberry.field(
        description="The places (of one type, in one structure of the territory)."
    )
    comment: str | None = strawberry.field(default=None, description="For the structure.")
    expected_version: int | None = strawberry.field(
        default=None, description="The demand's `version` as you read it."
    )


@strawberry.input(description="A structure's decision on an orientation.")
class DecideOrientationInput:
    orientation_id: strawberry.ID = strawberry.field(description="The orientation.")
    accept: bool = strawberry.field(description="Accept (true) or refuse (false).")
    refusal_reason: RefusalReason | None = strawberry.field(
        default=None, description="Required when refusing."
    )
    comment: str | None = strawberry.field(default=None, description="For the SIAO.")


@strawberry.input(description="Admit the household of an accepted orientation.")
class AdmitInput:
    orientation_id: strawberry.ID = strawberry.field(description="The accepted orientation.")


@strawberry.input(description="End the current stay of a demand.")
class RecordExitInput:
    demand_id: strawberry.ID = strawberry.field(description="The demand.")
    reason: ExitReason = strawberry.field(description="Why the stay ends.")


@strawberry.input(description="Place an emergency demand for the night.")
class PlaceForNightInput:
    demand_id: strawberry.ID = strawberry.field(description="The emergency demand.")
    place_id: strawberry.ID = strawberry.field(description="Places with a vacancy tonight.")


@strawberry.input(description="How many places of one type are free in your structure.")
class DeclareVacanciesInput:
    place_id: strawberry.ID = strawberry.field(description="The places.")
    vacancies: int = strawberry.field(description="Free places now (0 to capacity - occupied).")
    expected_version: int = strawberry.field(description="The places' `version` as you read it.")


@strawberry.type(description="Result of `declareVacancies`.")
class DeclareVacanciesPayload:
    user_errors: list[DemandUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    place_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The places, with the new count.")
    def place(self, info: Info) -> Later[Place | None]:
        if self.place_id is None:
            return None
        return then(now_or_later(info.context.loaders.place_by_id, self.place_id), place_from_row)


async def _simple(
    info: Info, action: DemandAction, data: DemandActionInput
) -> DemandLifecyclePayload:
    acted = await write.act(
        info.context,
        action,
        decode_uuid(data.demand_id, "Demand"),
        expected_version=data.expected_version,
    )
    return payload(acted)


Input = Annotated[DemandActionInput, strawberry.argument(description="The demand.")]


@strawberry.type
class LifecycleMutations:
    @performs(DemandAction.SUBMIT, "Send a draft (or refused) demand to the SIAO.")
    async def submit_demand(self, info: Info, input: Input) -> DemandLifecyclePayload:
        return await _simple(info, DemandAction.SUBMIT, input)

    @performs(DemandAction.REVIEW, "Start evaluating a submitted demand.")
    async def review_demand(self, info: Info, input: Input) -> DemandLifecyclePayload:
        return await _simple(info, DemandAction.REVIEW, input)

    @performs(
        DemandAction.ORIENT,
        "Propose a demand to a structure's places: holds one vacancy until the structure "
        "decides (NO_VACANCY if none is left).",
    )
    async def propose_orientation(
        self,
        info: Info,
        input: Annotated[ProposeOrientationInput, strawberry.argument(description="The proposal.")],
    ) -> DemandLifecyclePayload:
        ctx = info.context
        effect = write.propose(ctx, decode_uuid(input.place_id, "Place"), input.comment)
        acted = await write.act(
            ctx,
            DemandAction.ORIENT,
            decode_uuid(input.demand_id, "Demand"),
            effect,
            input.expected_version,
        )
        return payload(acted)

    @performs(
        DemandAction.ACCEPT,
        "Accept or refuse an orientation to your structure (refusing frees the place). Also "
        "allowed to refuse: see `DemandAction.REFUSE`. An orientation to another structure "
        "answers NOT_FOUND, as one that does not exist.",
    )
    async def decide_orientation(
        self,
        info: Info,
        input: Annotated[DecideOrientationInput, strawberry.argument(description="The decision.")],
    ) -> DemandLifecyclePayload:
        ctx = info.context
        if not input.accept and input.refusal_reason is None:
            raise bad_input("A refusal needs a `refusalReason`.", field="refusalReason")
        reason = None if input.accept else _RefusalReason(_value(input.refusal_reason))
        orientation_id = decode_uuid(input.orientation_id, "Orientation")
        action = DemandAction.ACCEPT if input.accept else DemandAction.REFUSE
        effect = write.decide(ctx, orientation_id, input.accept, reason, input.comment)
        acted = await write.act(ctx, action, None, effect, orientation_id=orientation_id)
        return payload(acted)

    @performs(
        DemandAction.ADMIT,
        "Admit the household of an accepted orientation to your structure: a stay starts (an "
        "orientation to another structure answers NOT_FOUND, as one that does not exist).",
    )
    async def admit(
        self,
        info: Info,
        input: Annotated[AdmitInput, strawberry.argument(description="The admission.")],
    ) -> DemandLifecyclePayload:
        ctx = info.context
        orientation_id = decode_uuid(input.orientation_id, "Orientation")
        effect = write.admit(ctx, orientation_id)
        acted = await write.act(
            ctx, DemandAction.ADMIT, None, effect, orientation_id=orientation_id
        )
        return payload(acted)

    @performs(
        DemandAction.EXIT,
        "End the current stay of a demand: the place is freed. A structure ends only its own "
        "stays (a demand whose stay is elsewhere answers NOT_FOUND, as one that does not exist).",
    )
    async def record_exit(
        self,
        info: Info,
        input: Annotated[RecordExitInput, strawberry.argument(description="The exit.")],
    ) -> DemandLifecyclePayload:
        ctx = info.context
        effect = write.record_exit(ctx, _ExitReason(_value(input.reason)))
        acted = await write.act(
            ctx, DemandAction.EXIT, decode_uuid(input.demand_id, "Demand"), effect
        )
        return payload(acted)

    @performs(DemandAction.CLOSE, "Close a demand that is answered or no longer needed.")
    async def close_demand(self, info: Info, input: Input) -> DemandLifecyclePayload:
        return await _simple(info, DemandAction.CLOSE, input)

    @performs(
        DemandAction.CANCEL,
        "Withdraw a demand before a stay; a pending orientation is cancelled and its place freed.",
    )
    async def cancel_demand(self, info: Info, input: Input) -> DemandLifecyclePayload:
        ctx = info.context
        acted = await write.act(
            ctx,
            DemandAction.CANCEL,
            decode_uuid(input.demand_id, "Demand"),
            write.release_pending(ctx),
            input.expected_version,
        )
        return payload(acted)

    @performs(
        DemandAction.PLACE,
        "Emergency: place the household in places with a vacancy tonight (a stay starts; "
        "NO_VACANCY if the last one is gone).",
    )
    async def place_for_night(
        self,
        info: Info,
        input: Annotated[PlaceForNightInput, strawberry.argument(description="Where.")],
    ) -> DemandLifecyclePayload:
        ctx = info.context
        effect = write.place_for_night(ctx, decode_uuid(input.place_id, "Place"))
        acted = await write.act(
            ctx, DemandAction.PLACE, decode_uuid(input.demand_id, "Demand"), effect
        )
        return payload(acted)

    @performs(
        DemandAction.UNMET,
        "Emergency: record that no place could be found tonight (the first indicator the "
        "State asks for).",
    )
    async def record_unmet(self, info: Info, input: Input) -> DemandLifecyclePayload:
        return await _simple(info, DemandAction.UNMET, input)

    @strawberry.mutation(
        description="Declare how many places of one type are free in your structure. For "
        "the structure's managers."
    )
    async def declare_vacancies(
        self,
        info: Info,
        input: Annotated[DeclareVacanciesInput, strawberry.argument(description="The count.")],
    ) -> DeclareVacanciesPayload:
        place_id, problems = await structure_write.declare_vacancies(
            info.context,
            decode_uuid(input.place_id, "Place"),
            input.vacancies,
            input.expected_version,
        )
        return DeclareVacanciesPayload(
            user_errors=user_errors(DemandUserError, problems), place_id=place_id
        )
