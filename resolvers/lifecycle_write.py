"""Moving demands along their lifecycle: submit, review, orient, decide, admit, exit,
close, cancel, and the emergency night's place or unmet.

Every action locks the demand (`FOR UPDATE`, through the row scope: an invisible demand is
NOT_FOUND), asks `models.lifecycle.transition` (an impossible move answers
INVALID_TRANSITION naming the current status), applies its effect on places (through
`resolvers.structure_write`), orientations and stays, and audits, in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import DemandAction, Relationship
from models import (
    Demand,
    DemandStatus,
    ExitReason,
    Orientation,
    OrientationStatus,
    Place,
    RefusalReason,
    Stay,
)
from models.lifecycle import InvalidTransition, transition
from resolvers import audit
from resolvers.context import Context
from resolvers.demand_write import DemandErrorCode
from resolvers.errors import CodedError, ErrorCode
from resolvers.events import notify_demand, notify_orientation
from resolvers.structure_write import give_back, place_of_territory, take_vacancy
from resolvers.writes import Problem, Refused, bump_activity, write_instant


@dataclass
class Acted:
    demand_id: uuid.UUID | None = None
    orientation_id: uuid.UUID | None = None
    stay_id: uuid.UUID | None = None
    problems: list[Problem] | None = None


Effect = Callable[[AsyncSession, Demand, datetime], Awaitable[Acted]]


def _own_places(ctx: Context) -> Any:
    """For a structure manager, the ids of their structure's places (None for others)."""
    viewer = ctx.authenticated
    if viewer.relationship is not Relationship.ORIENTED_OR_HOSTING:
        return None
    return select(Place.id).where(Place.organisation_id == viewer.organisation_id)


def _own_structure(ctx: Context, action: DemandAction, by_orientation: bool) -> Any:
    """For a structure manager, the predicate that keeps a lifecycle action to the
    structure's own orientations and stays (None for other viewers): the orientation named,
    or for a demand named, a stay (EXIT) or an orientation or stay at the structure.

    Threat stopped: a structure acting on another structure's orientation or stay of a
    household it also hosts or is oriented to (ending a stay elsewhere, deciding for
    another structure): those read as nonexistent, in the statement that looks them up."""
    own_places = _own_places(ctx)
    if own_places is None:
        return None
    if by_orientation:
        return Orientation.place_id.in_(own_places)
    stayed = exists().where(Stay.demand_id == Demand.id, Stay.place_id.in_(own_places))
    if action is DemandAction.EXIT:
        return stayed
    oriented = exists().where(
        Orientation.demand_id == Demand.id, Orientation.place_id.in_(own_places)
    )
    return or_(stayed, oriented)


async def _lock_demand(
    session: AsyncSession,
    ctx: Context,
    action: DemandAction,
    demand_id: uuid.UUID | None,
    orientation_id: uuid.UUID | None,
) -> Demand:
    """The demand, locked, found by its id or by one of its orientations' id, through the
    row scope and (for a structure) the structure's own orientations and stays, in ONE
    statement: an id the viewer may not act on and one that does not exist take the same
    path to the same NOT_FOUND, before any other check."""
    statement = select(Demand).where(Demand.household_id.in_(ctx.scope.household_ids()))
    if orientation_id is not None:
        statement = statement.join(Orientation, Orientation.demand_id == Demand.id).where(
            Orientation.id == orientation_id
        )
        missing = Problem(DemandErrorCode.NOT_FOUND, "No such orientation.", ["orientationId"])
    else:
        statement = statement.where(Demand.id == demand_id)
        missing = Problem(DemandErrorCode.NOT_FOUND, "No such demand.", ["demandId"])
    own = _own_structure(ctx, action, orientation_id is not None)
    if own is not None:
        statement = statement.where(own)
    demand = await session.scalar(statement.with_for_update(of=Demand))
    if demand is None:
        raise Refused(missing)
    return demand


async def act(
    ctx: Context,
    action: DemandAction,
    demand_id: uuid.UUID | None,
    effect: Effect | None = None,
    expected_version: int | None = None,
    *,
    orientation_id: uuid.UUID | None = None,
) -> Acted:
    """Run one lifecycle action on a demand (named by its id, or by the id of one of its
    orientations for a structure's decision and admission), in one transaction."""
    viewer = ctx.authenticated
    if not viewer.may_act(action):
        raise CodedError(ErrorCode.FORBIDDEN, "You may not do this to a demand.")
    try:
        async with ctx.transaction() as session:
            demand = await _lock_demand(session, ctx, action, demand_id, orientation_id)
            if expected_version is not None and demand.version != expected_version:
                raise Refused(
                    Problem(
                        DemandErrorCode.STALE_VERSION,
                        f"The demand changed since you read it (version {expected_version}, now "
                        f"{demand.version}).",
                        ["expectedVersion"],
                        current_version=demand.version,
                    )
                )
            try:
                target = transition(action, demand.status, demand.kind)
            except InvalidTransition as exc:
                raise Refused(
                    Problem(
                        DemandErrorCode.INVALID_TRANSITION,
                        str(exc),
                        ["demandId"],
                        current_status=demand.status.value,
                    )
                ) from None
            at = await write_instant(session)
            before = demand.status
            acted = await effect(session, demand, at) if effect else Acted()
            demand.status = target
            demand.version += 1
            demand.updated_at = at
            if target is DemandStatus.SUBMITTED:
                demand.submitted_at = at
            audit.record(
                session,
                ctx,
                at=at,
                action=action.value,
                entity_type="Demand",
                entity_id=demand.id,
                household_id=demand.household_id,
                changes={"status": {"before": before.value, "after": target.value}},
            )
            await bump_activity(session, demand.household_id, at)
            await notify_demand(session, demand.id, demand.household_id)
            acted.demand_id = demand.id
    except Refused as refused:
        return Acted(problems=refused.problems)
    return acted


async def _open_orientation(
    session: AsyncSession, demand: Demand, status: OrientationStatus
) -> Orientation | None:
    orientation: Orientation | None = await session.scalar(
        select(Orientation)
        .where(Orientation.demand_id == demand.id, Orientation.status == status)
        .with_for_update()
    )
    return orientation


def propose(ctx: Context, place_id: uuid.UUID, comment: str | None) -> Effect:
    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        place = await place_of_territory(session, demand, place_id)
        await take_vacancy(session, place.id, occupy=False)
        orientation = Orientation(
            id=uuid.uuid4(),
            demand_id=demand.id,
            household_id=demand.household_id,
            place_id=place.id,
            status=OrientationStatus.PROPOSED,
            comment=comment,
            proposed_at=at,
            proposed_by=ctx.authenticated.user_id,
            version=1,
        )
        session.add(orientation)
        await session.flush()
        await notify_orientation(session, orientation.id, place.organisation_id)
        audit.record(
            session,
            ctx,
            at=at,
            action="PROPOSE",
            entity_type="Orientation",
            entity_id=orientation.id,
            household_id=demand.household_id,
            changes=audit.field_changes({}, {"place": place.id, "status": "PROPOSED"}),
        )
        return Acted(orientation_id=orientation.id)

    return effect


async def _managed_orientation(
    session: AsyncSession,
    ctx: Context,
    demand: Demand,
    orientation_id: uuid.UUID,
    status: OrientationStatus,
) -> Orientation:
    """The orientation named (already found through the scope and the viewer's structure
    with its demand, `_lock_demand`), locked, if it is in `status`."""
    orientation: Orientation | None = await session.scalar(
        select(Orientation)
        .where(
            Orientation.id == orientation_id,
            Orientation.demand_id == demand.id,
            Orientation.place_id.in_(
                select(Place.id).where(Place.organisation_id == ctx.authenticated.organisation_id)
            ),
        )
        .with_for_update()
    )
    if orientation is None:  # only if it changed hands between the two statements
        raise Refused(Problem(DemandErrorCode.NOT_FOUND, "No such orientation.", ["orientationId"]))
    if orientation.status is not status:
        raise Refused(
            Problem(
                DemandErrorCode.INVALID_TRANSITION,
                f"This orientation is {orientation.status.value}, not {status.value}.",
                ["orientationId"],
                current_status=demand.status.value,
            )
        )
    return orientation


def decide(
    ctx: Context,
    orientation_id: uuid.UUID,
    accept: bool,
    reason: RefusalReason | None,
    comment: str | None,
) -> Effect:
    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        orientation = await _managed_orientation(
            session, ctx, demand, orientation_id, OrientationStatus.PROPOSED
        )
        orientation.status = OrientationStatus.ACCEPTED if accept else OrientationStatus.REFUSED
        orientation.refusal_reason = None if accept else reason
        orientation.comment = comment or orientation.comment
        orientation.decided_at = at
        orientation.decided_by = ctx.authenticated.user_id
        orientation.version += 1
        if not accept:
            await give_back(session, orientation.place_id, vacate=False)
        audit.record(
            session,
            ctx,
            at=at,
            action="DECIDE",
            entity_type="Orientation",
            entity_id=orientation.id,
            household_id=demand.household_id,
            changes=audit.field_changes(
                {"status": "PROPOSED"},
                {"status": orientation.status, "refusalReason": orientation.refusal_reason},
            ),
        )
        return Acted(orientation_id=orientation.id)

    return effect


def admit(ctx: Context, orientation_id: uuid.UUID) -> Effect:
    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        orientation = await _managed_orientation(
            session, ctx, demand, orientation_id, OrientationStatus.ACCEPTED
        )
        # The vacancy was held since the proposal: the place is now occupied.
        await session.execute(
            update(Place)
            .where(Place.id == orientation.place_id)
            .values(occupied=Place.occupied + 1, version=Place.version + 1, updated_at=at)
        )
        return await _open_stay(session, ctx, demand, orientation.place_id, orientation.id, at)

    return effect


async def _open_stay(
    session: AsyncSession,
    ctx: Context,
    demand: Demand,
    place_id: uuid.UUID,
    orientation_id: uuid.UUID | None,
    at: datetime,
) -> Acted:
    stay = Stay(
        id=uuid.uuid4(),
        household_id=demand.household_id,
        demand_id=demand.id,
        orientation_id=orientation_id,
        place_id=place_id,
        validity=Range(at, None, bounds="[)"),
        created_by=ctx.authenticated.user_id,
    )
    session.add(stay)
    audit.record(
        session,
        ctx,
        at=at,
        action="ADMIT",
        entity_type="Stay",
        entity_id=stay.id,
        household_id=demand.household_id,
        changes=audit.field_changes({}, {"place": place_id, "from": at}),
    )
    return Acted(orientation_id=orientation_id, stay_id=stay.id)


def place_for_night(ctx: Context, place_id: uuid.UUID) -> Effect:
    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        place = await place_of_territory(session, demand, place_id)
        await take_vacancy(session, place.id, occupy=True)
        return await _open_stay(session, ctx, demand, place.id, None, at)

    return effect


def record_exit(ctx: Context, reason: ExitReason) -> Effect:
    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        current = select(Stay).where(Stay.demand_id == demand.id, func.upper_inf(Stay.validity))
        own_places = _own_places(ctx)
        if own_places is not None:  # a structure ends its own stays only
            current = current.where(Stay.place_id.in_(own_places))
        stay = await session.scalar(current.with_for_update())
        if stay is None:
            raise Refused(
                Problem(DemandErrorCode.NOT_FOUND, "No current stay for this demand.", ["demandId"])
            )
        stay.validity = Range(stay.validity.lower, at, bounds="[)")
        stay.exit_reason = reason
        await give_back(session, stay.place_id, vacate=True)
        audit.record(
            session,
            ctx,
            at=at,
            action="EXIT",
            entity_type="Stay",
            entity_id=stay.id,
            household_id=demand.household_id,
            changes=audit.field_changes({}, {"until": at, "exitReason": reason}),
        )
        return Acted(stay_id=stay.id)

    return effect


def release_pending(ctx: Context) -> Effect:
    """On cancel: a pending or accepted orientation is cancelled and its place freed."""

    async def effect(session: AsyncSession, demand: Demand, at: datetime) -> Acted:
        for status in (OrientationStatus.PROPOSED, OrientationStatus.ACCEPTED):
            orientation = await _open_orientation(session, demand, status)
            if orientation is None:
                continue
            orientation.status = OrientationStatus.CANCELLED
            orientation.decided_at = at
            orientation.version += 1
            await give_back(session, orientation.place_id, vacate=False)
            audit.record(
                session,
                ctx,
                at=at,
                action="CANCEL",
                entity_type="Orientation",
                entity_id=orientation.id,
                household_id=demand.household_id,
                changes={"status": {"before": status.value, "after": "CANCELLED"}},
            )
        return Acted()

    return effect
