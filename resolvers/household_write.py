"""Household mutations: create a household, and the household rules that adding and moving
a member (`resolvers.member_write`) also use: new persons and households, accompaniments,
the member limit, locking several households, checking a household's version.

Each runs in one transaction (`Context.transaction`) that also writes its audit events;
a business refusal raises `Refused` inside it, so nothing is half-written. What every
domain's writes share is in `resolvers.writes`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, func, literal, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import Relationship as PolicyRelationship
from models import (
    Accompaniment,
    Household,
    Membership,
    Person,
    Relationship,
    Sex,
    Territory,
)
from resolvers import audit
from resolvers.accompaniment_write import Follower, accompany
from resolvers.context import Context
from resolvers.validation import birth_date_problem, clean_name, name_problem
from resolvers.writes import Problem, Refused, write_instant


class HouseholdErrorCode(StrEnum):
    UNKNOWN_TERRITORY = "UNKNOWN_TERRITORY"
    TERRITORY_OUT_OF_SCOPE = "TERRITORY_OUT_OF_SCOPE"
    NO_MEMBERS = "NO_MEMBERS"
    ONE_REFERENCE_PERSON = "ONE_REFERENCE_PERSON"
    INVALID_NAME = "INVALID_NAME"
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_IN_HOUSEHOLD = "ALREADY_IN_HOUSEHOLD"
    SAME_HOUSEHOLD = "SAME_HOUSEHOLD"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    STALE_VERSION = "STALE_VERSION"
    INVALID_INPUT = "INVALID_INPUT"


@dataclass(frozen=True)
class NewPerson:
    first_name: str
    last_name: str
    usage_name: str | None
    birth_date: date | None
    sex: Sex
    relationship: Relationship


@dataclass
class Outcome:
    household_id: uuid.UUID | None = None
    person_ids: list[uuid.UUID] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def person_problems(person: NewPerson, path: list[str], now: datetime) -> list[Problem]:
    problems: list[Problem] = []
    for attr, required in (("first_name", True), ("last_name", True), ("usage_name", False)):
        problem = name_problem(getattr(person, attr), required=required)
        if problem:
            camel = "".join(w if i == 0 else w.title() for i, w in enumerate(attr.split("_")))
            problems.append(
                Problem(HouseholdErrorCode.INVALID_NAME, f"{camel} {problem}.", [*path, camel])
            )
    problem = birth_date_problem(person.birth_date, now)
    if problem:
        problems.append(
            Problem(
                HouseholdErrorCode.INVALID_BIRTH_DATE,
                f"birthDate {problem}.",
                [*path, "birthDate"],
            )
        )
    return problems


def person_values(person: Person) -> dict[str, Any]:
    return {
        "firstName": person.first_name,
        "lastName": person.last_name,
        "usageName": person.usage_name,
        "birthDate": person.birth_date,
        "sex": person.sex,
    }


async def insert_members(
    session: AsyncSession,
    ctx: Context,
    household: Household,
    news: list[NewPerson],
    at: datetime,
) -> list[uuid.UUID]:
    """Persons first (flushed), then their memberships and audit events: the models have
    no ORM relationships, so the insert order is ours to give."""
    user_id = ctx.authenticated.user_id
    persons = [
        Person(
            id=uuid.uuid4(),
            first_name=clean_name(new.first_name),
            last_name=clean_name(new.last_name),
            usage_name=clean_name(new.usage_name) if new.usage_name else None,
            birth_date=new.birth_date,
            sex=new.sex,
            created_at=at,
            updated_at=at,
            created_by=user_id,
        )
        for new in news
    ]
    session.add_all(persons)
    await session.flush()
    for person, new in zip(persons, news, strict=True):
        membership = Membership(
            id=uuid.uuid4(),
            person_id=person.id,
            household_id=household.id,
            relationship=new.relationship,
            validity=Range(at, None, bounds="[)"),
            created_at=at,
            created_by=user_id,
        )
        session.add(membership)
        audit.record(
            session,
            ctx,
            at=at,
            action="CREATE",
            entity_type="Person",
            entity_id=person.id,
            household_id=household.id,
            changes=audit.field_changes({}, person_values(person)),
        )
        audit.record(
            session,
            ctx,
            at=at,
            action="ADD_MEMBER",
            entity_type="Membership",
            entity_id=membership.id,
            household_id=household.id,
            changes=audit.field_changes(
                {}, {"person": person.id, "relationship": new.relationship, "validFrom": at}
            ),
        )
    return [person.id for person in persons]


def _one_reference(members: list[NewPerson]) -> list[Problem]:
    if not members:
        return [
            Problem(
                HouseholdErrorCode.NO_MEMBERS, "A household needs at least one member.", ["members"]
            )
        ]
    refs = sum(1 for m in members if m.relationship is Relationship.REFERENCE_PERSON)
    if refs != 1:
        return [
            Problem(
                HouseholdErrorCode.ONE_REFERENCE_PERSON,
                f"Exactly one member must be the REFERENCE_PERSON (got {refs}).",
                ["members"],
            )
        ]
    return []


async def new_household(
    session: AsyncSession,
    ctx: Context,
    territory: str,
    at: datetime,
    *,
    protected: bool | None = None,
) -> Household:
    """A new household of `territory`, with its CREATE event. `protected` (a move's new
    household inherits the flag of the one she left, `member_write.move_household_member`)
    is then recorded in that event, true or false alike (a field present only when true
    would say so to whoever sees the event without reading VIOLENCE)."""
    household = Household(
        id=uuid.uuid4(),
        territory_code=territory,
        created_at=at,
        updated_at=at,
        last_activity_at=at,
        created_by=ctx.authenticated.user_id,
        version=1,
        protected=bool(protected),
    )
    session.add(household)
    await session.flush()
    values: dict[str, Any] = {"territory": territory}
    if protected is not None:
        values["protected"] = protected
    audit.record(
        session,
        ctx,
        at=at,
        action="CREATE",
        entity_type="Household",
        entity_id=household.id,
        household_id=household.id,
        changes=audit.field_changes({}, values),
    )
    return household


async def _accompany_if_social_worker(
    session: AsyncSession,
    ctx: Context,
    household: Household,
    at: datetime,
    already: frozenset[Follower] = frozenset(),
) -> None:
    """A household created by an accompanying professional is accompanied by them (and
    their organisation) from then on; otherwise it would vanish from their own scope.
    Not twice: nothing is added when `already` (accompaniments just carried over) holds
    the same user, or the same organisation (one organisation accompanies a household
    once at a time: `accompaniment_no_overlap`)."""
    viewer = ctx.authenticated
    if viewer.relationship is not PolicyRelationship.ACCOMPANYING:
        return
    follower = (viewer.user_id, viewer.organisation_id)
    users = {user for user, _ in already}
    organisations = {organisation for _, organisation in already if organisation is not None}
    if viewer.user_id in users or viewer.organisation_id in organisations:
        return
    accompany(session, ctx, household, follower, at)


async def carry_accompaniments(
    session: AsyncSession, ctx: Context, source: Household, household: Household, at: datetime
) -> None:
    """`household` (new, born of a move out of `source`) is accompanied from `at` by whoever
    accompanies `source` at `at` (same user, same organisation, same role, same planned
    end), each with its ACCOMPANY event, and by the actor if they are a social worker (as
    by `createHousehold`) whose organisation is not among them.

    Threat stopped: a member moved out into a household of her own, protected like the one
    she left (`move_household_member`), followed by nobody. Nobody could then read her
    file but the SIAO, nor write VIOLENCE (only an accompanying worker may), so nobody
    could keep or lift her protection; and the worker who followed her would lose her."""
    rows = await session.scalars(
        select(Accompaniment)
        .where(
            Accompaniment.household_id == source.id,
            Accompaniment.validity.contains(literal(at, DateTime(timezone=True))),
        )
        .order_by(Accompaniment.created_at, Accompaniment.id)
    )
    # One per follower (an organisation accompanies once at a time, so at most one per
    # organisation), the one that lasts longest (an open end lasts longest).
    kept: dict[Follower, Accompaniment] = {}
    for row in rows:
        follower = (row.user_id, row.organisation_id)
        end = row.validity.upper
        if follower in kept:
            other = kept[follower].validity.upper
            if other is None or (end is not None and end <= other):
                continue
        kept[follower] = row
    for follower, row in kept.items():
        accompany(session, ctx, household, follower, at, row.validity.upper, row.role)
    await _accompany_if_social_worker(session, ctx, household, at, frozenset(kept))


async def _check_territory(session: AsyncSession, ctx: Context, territory: str) -> None:
    exists = await session.scalar(select(Territory.code).where(Territory.code == territory))
    if exists is None:
        raise Refused(
            Problem(
                HouseholdErrorCode.UNKNOWN_TERRITORY,
                f"Unknown territory {territory[:10]!r}.",
                ["territory"],
            )
        )
    if not ctx.scope.allows_territory(territory):
        raise Refused(
            Problem(
                HouseholdErrorCode.TERRITORY_OUT_OF_SCOPE,
                f"You may not create households in territory {territory}.",
                ["territory"],
            )
        )


# The most current members a household may have. Families of twenty exist; more is a group
# (a squat, a camp), recorded as several households. The bound also keeps what one read of
# a household returns bounded (the cost limit assumes lists of this order, schema/cost.py).
MAX_MEMBERS = 30


def too_many_members(count: int, field: list[str]) -> Problem:
    return Problem(
        HouseholdErrorCode.INVALID_INPUT,
        f"A household has at most {MAX_MEMBERS} members (here {count}): record a larger "
        "group as several households.",
        field,
    )


async def check_room(session: AsyncSession, household_id: uuid.UUID, field: list[str]) -> None:
    """Refuses one more member in a household (locked by the caller) that has the most."""
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.household_id == household_id, func.upper_inf(Membership.validity))
    )
    if count is not None and count >= MAX_MEMBERS:
        raise Refused(too_many_members(count + 1, field))


async def create_household(ctx: Context, territory: str, members: list[NewPerson]) -> Outcome:
    if len(members) > MAX_MEMBERS:
        return Outcome(problems=[too_many_members(len(members), ["members"])])
    problems = _one_reference(members)
    for i, member in enumerate(members):
        problems += person_problems(member, ["members", str(i)], ctx.now)
    if problems:
        return Outcome(problems=problems)
    try:
        async with ctx.transaction() as session:
            await _check_territory(session, ctx, territory)
            at = await write_instant(session)
            household = await new_household(session, ctx, territory, at)
            ids = await insert_members(session, ctx, household, members, at)
            await _accompany_if_social_worker(session, ctx, household, at)
    except Refused as refused:
        return Outcome(problems=refused.problems)
    return Outcome(household_id=household.id, person_ids=ids)


async def lock_households(
    session: AsyncSession, ctx: Context, household_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Household]:
    """Those of the households the viewer may see, locked in id order (no deadlock between
    two writers locking the same ones), in ONE statement: whether an id is out of scope or
    does not exist, and however the ids compare, the same statement runs (the caller says
    NOT_FOUND for an id missing from the answer)."""
    rows = await session.scalars(
        select(Household)
        .where(Household.id.in_(household_ids), ctx.scope.households(Household.__table__))
        .order_by(Household.id)
        .with_for_update()
    )
    return {household.id: household for household in rows}


def check_version(household: Household, expected: int | None, path: list[str]) -> None:
    if expected is not None and household.version != expected:
        raise Refused(
            Problem(
                HouseholdErrorCode.STALE_VERSION,
                f"The household changed since you read it (version {expected}, now "
                f"{household.version}); reload it and apply your change again.",
                path,
                current_version=household.version,
            )
        )
    if household.closed_at is not None:
        raise Refused(
            Problem(
                HouseholdErrorCode.HOUSEHOLD_CLOSED,
                "The household is closed (it has no members left).",
                path,
            )
        )


def touch(household: Household, at: datetime) -> None:
    household.version += 1
    household.updated_at = at
    household.last_activity_at = at


async def open_membership(session: AsyncSession, person_id: uuid.UUID) -> Membership | None:
    membership: Membership | None = await session.scalar(
        select(Membership).where(
            Membership.person_id == person_id, func.upper_inf(Membership.validity)
        )
    )
    return membership


async def visible_membership(
    session: AsyncSession, ctx: Context, person_id: uuid.UUID
) -> Membership | None:
    """The person's open membership if the viewer may see her (her current household is in
    the row scope), else None: a person out of scope and one that does not exist read the
    same, in the same one statement.

    Threat stopped: a mutation naming a person of a household the viewer does not follow
    learning where she lives (SAME_HOUSEHOLD, ALREADY_IN_HOUSEHOLD) or that she exists."""
    membership: Membership | None = await session.scalar(
        select(Membership).where(
            Membership.person_id == person_id,
            func.upper_inf(Membership.validity),
            Membership.household_id.in_(ctx.scope.household_ids()),
        )
    )
    return membership
