"""createDemand, one of the two vital functions: short, one transaction, few statements;
and setDemandPriority, the SIAO's re-ranking of a demand in its work queue.

The rank of a demand (`priority`, which orders the work queue) belongs to the territory's
SIAO: a demand it creates gets the priority it gives; anyone else's `priority` is recorded
as a suggestion (`suggested_priority`, with its author) and the demand gets the default
(`DEFAULT_PRIORITY`) until the SIAO sets it with `setDemandPriority`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select

from auth.policy import Relationship
from models import Demand, DemandKind, DemandPerson, DemandStatus, Membership, PlaceType
from resolvers import audit
from resolvers.context import Context
from resolvers.events import notify_demand
from resolvers.validation import clean_text, text_problem
from resolvers.writes import Problem, Refused, bump_activity, lock_household, write_instant


class DemandErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    NO_CONCERNED_PERSON = "NO_CONCERNED_PERSON"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NO_VACANCY = "NO_VACANCY"
    WRONG_PLACE = "WRONG_PLACE"
    INVALID_INPUT = "INVALID_INPUT"
    STALE_VERSION = "STALE_VERSION"
    INVALID_REASON = "INVALID_REASON"
    DEMAND_ENDED = "DEMAND_ENDED"


DEFAULT_PRIORITY = 3
REASON_MAX = 2000
# A demand in one of these statuses is over: its rank orders nothing any more.
ENDED_STATUSES = frozenset({DemandStatus.CLOSED, DemandStatus.CANCELLED, DemandStatus.UNMET})


PARIS = ZoneInfo("Europe/Paris")


def tonight(now: datetime) -> date:
    """The night a 115 call made at `now` (the request's instant, `Context.now`) is for
    (Paris time; after midnight, still last night until 8:00)."""
    return (now.astimezone(PARIS) - timedelta(hours=8)).date()


@dataclass(frozen=True)
class DemandDetails:
    # The creator's priority: the rank from the territory's SIAO, a suggestion from others.
    priority: int | None = None
    night: date | None = None
    recommended_place_type: PlaceType | None = None
    commission_date: date | None = None


def details_problems(kind: DemandKind, details: DemandDetails, now: datetime) -> list[Problem]:
    problems = []
    if details.priority is not None and not 1 <= details.priority <= 4:
        problems.append(
            Problem(
                DemandErrorCode.INVALID_INPUT,
                "priority is between 1 (most urgent) and 4.",
                ["priority"],
            )
        )
    if kind is DemandKind.INSERTION and details.night is not None:
        problems.append(
            Problem(DemandErrorCode.INVALID_INPUT, "`night` is for emergency demands.", ["night"])
        )
    if kind is DemandKind.EMERGENCY and (
        details.recommended_place_type is not None or details.commission_date is not None
    ):
        problems.append(
            Problem(
                DemandErrorCode.INVALID_INPUT,
                "`recommendedPlaceType` and `commissionDate` are for insertion demands.",
                ["recommendedPlaceType"],
            )
        )
    if details.night is not None and details.night < tonight(now) - timedelta(days=1):
        problems.append(
            Problem(
                DemandErrorCode.INVALID_INPUT, "`night` is tonight or a night to come.", ["night"]
            )
        )
    return problems


async def create_demand(
    ctx: Context,
    household_id: uuid.UUID,
    kind: DemandKind,
    concerned: list[uuid.UUID] | None,
    draft: bool,
    details: DemandDetails | None = None,
) -> tuple[uuid.UUID | None, list[Problem]]:
    """Concerned persons default to every current member (the 115 operator's usual case);
    an emergency demand is for tonight unless said otherwise."""
    details = details or DemandDetails()
    problems = details_problems(kind, details, ctx.now)
    if problems:
        return None, problems
    if concerned is not None and not concerned:
        return None, [
            Problem(
                DemandErrorCode.NO_CONCERNED_PERSON,
                "A demand concerns at least one member.",
                ["concernedPersonIds"],
            )
        ]
    try:
        async with ctx.transaction() as session:
            household = await lock_household(session, ctx, household_id, ["householdId"])
            if household.closed_at is not None:
                raise Refused(
                    Problem(
                        DemandErrorCode.HOUSEHOLD_CLOSED,
                        "The household is closed.",
                        ["householdId"],
                    )
                )
            at = await write_instant(session)
            # The household was found through the row scope: a SIAO operator who sees it
            # is its territory's SIAO.
            siao = ctx.authenticated.relationship is Relationship.TERRITORY_SIAO
            suggested = None if siao else details.priority
            priority = (details.priority if siao else None) or DEFAULT_PRIORITY
            members = set(
                (
                    await session.scalars(
                        select(Membership.person_id).where(
                            Membership.household_id == household.id,
                            Membership.validity.contains(at),
                        )
                    )
                ).all()
            )
            wanted = list(dict.fromkeys(concerned)) if concerned is not None else sorted(members)
            outsiders = [p for p in wanted if p not in members]
            if outsiders:
                raise Refused(
                    Problem(
                        DemandErrorCode.NOT_A_MEMBER,
                        f"{len(outsiders)} of the concerned persons are not current members of "
                        "the household.",
                        ["concernedPersonIds"],
                    )
                )
            demand = Demand(
                id=uuid.uuid4(),
                household_id=household.id,
                kind=kind,
                status=DemandStatus.DRAFT if draft else DemandStatus.SUBMITTED,
                created_at=at,
                updated_at=at,
                created_by=ctx.authenticated.user_id,
                version=1,
                priority=priority,
                suggested_priority=suggested,
                priority_suggested_by=(
                    ctx.authenticated.user_id if suggested is not None else None
                ),
                submitted_at=None if draft else at,
                night=(details.night or tonight(ctx.now)) if kind is DemandKind.EMERGENCY else None,
                recommended_place_type=details.recommended_place_type,
                commission_date=details.commission_date,
            )
            session.add(demand)
            await session.flush()
            session.add_all([DemandPerson(demand_id=demand.id, person_id=p) for p in wanted])
            audit.record(
                session,
                ctx,
                at=at,
                action="CREATE",
                entity_type="Demand",
                entity_id=demand.id,
                household_id=household.id,
                changes=audit.field_changes(
                    {},
                    {
                        "kind": kind,
                        "status": demand.status,
                        "concernedPersons": sorted(str(p) for p in wanted),
                        "priority": priority,
                        "suggestedPriority": suggested,
                    },
                ),
            )
            await bump_activity(session, household.id, at)
            await notify_demand(session, demand.id, household.id)
    except Refused as refused:
        return None, refused.problems
    return demand.id, []


async def set_demand_priority(
    ctx: Context, demand_id: uuid.UUID, priority: int, reason: str, expected_version: int
) -> tuple[uuid.UUID | None, list[Problem]]:
    """The territory's SIAO re-ranks a demand (the permission lets only the SIAO in: every
    demand it sees is of its territory). Locks the demand through the row scope (out of
    scope: NOT_FOUND, as an id that does not exist), checks the version, records the
    before/after priority with the reason in the change log, in one transaction."""
    problems = []
    if not 1 <= priority <= 4:
        problems.append(
            Problem(
                DemandErrorCode.INVALID_INPUT,
                "priority is between 1 (most urgent) and 4.",
                ["priority"],
            )
        )
    reason_problem = text_problem(reason, max_length=REASON_MAX, required=True)
    if reason_problem:
        problems.append(
            Problem(DemandErrorCode.INVALID_REASON, f"reason {reason_problem}.", ["reason"])
        )
    if problems:
        return None, problems
    try:
        async with ctx.transaction() as session:
            demand = await session.scalar(
                select(Demand)
                .where(
                    Demand.id == demand_id,
                    Demand.household_id.in_(ctx.scope.household_ids()),
                )
                .with_for_update()
            )
            if demand is None:
                raise Refused(Problem(DemandErrorCode.NOT_FOUND, "No such demand.", ["demandId"]))
            if demand.version != expected_version:
                raise Refused(
                    Problem(
                        DemandErrorCode.STALE_VERSION,
                        f"The demand changed since you read it (version {expected_version}, "
                        f"now {demand.version}).",
                        ["expectedVersion"],
                        current_version=demand.version,
                    )
                )
            if demand.status in ENDED_STATUSES:
                raise Refused(
                    Problem(
                        DemandErrorCode.DEMAND_ENDED,
                        f"The demand is {demand.status.value}: its priority orders nothing.",
                        ["demandId"],
                        current_status=demand.status.value,
                    )
                )
            at = await write_instant(session)
            before = demand.priority
            demand.priority = priority
            demand.version += 1
            demand.updated_at = at
            audit.record(
                session,
                ctx,
                at=at,
                action="SET_PRIORITY",
                entity_type="Demand",
                entity_id=demand.id,
                household_id=demand.household_id,
                changes={
                    "priority": {"before": before, "after": priority},
                    "reason": {"before": None, "after": clean_text(reason)},
                },
            )
            await bump_activity(session, demand.household_id, at)
            await notify_demand(session, demand.id, demand.household_id)
    except Refused as refused:
        return None, refused.problems
    return demand.id, []
