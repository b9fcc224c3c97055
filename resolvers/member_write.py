"""Household mutations on members: add a member, move a member.

Each runs in one transaction (`Context.transaction`) that also writes its audit events;
a business refusal raises `Refused` inside it, so nothing is half-written. Rows are
locked (`FOR UPDATE`) in a fixed order (the person, then households by id) to serialise
concurrent edits of the same record without deadlocks.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range

from models import Household, Membership, Person, Relationship
from resolvers import audit
from resolvers.context import Context
from resolvers.household_write import (
    HouseholdErrorCode,
    NewPerson,
    Outcome,
    carry_accompaniments,
    check_room,
    check_version,
    insert_members,
    lock_households,
    new_household,
    person_problems,
    touch,
    visible_membership,
)
from resolvers.writes import Problem, Refused, lock_household, write_instant


async def add_household_member(
    ctx: Context,
    household_id: uuid.UUID,
    expected_version: int,
    new: NewPerson | None,
    existing_person_id: uuid.UUID | None,
) -> Outcome:
    if (new is None) == (existing_person_id is None):
        return Outcome(
            problems=[
                Problem(
                    HouseholdErrorCode.INVALID_INPUT,
                    "Give either `person` or `personId`.",
                    ["person"],
                )
            ]
        )
    if new is not None:
        problems = person_problems(new, ["person"], ctx.now)
        if new.relationship is Relationship.REFERENCE_PERSON:
            problems.append(
                Problem(
                    HouseholdErrorCode.ONE_REFERENCE_PERSON,
                    "The household already has its reference person.",
                    ["person", "relationship"],
                )
            )
        if problems:
            return Outcome(problems=problems)
    try:
        async with ctx.transaction() as session:
            # Every id is looked up through the row scope before any other check.
            household = await lock_household(session, ctx, household_id, ["householdId"])
            current = (
                await visible_membership(session, ctx, existing_person_id)
                if existing_person_id is not None
                else None
            )
            if existing_person_id is not None and current is None:
                raise Refused(
                    Problem(HouseholdErrorCode.NOT_FOUND, "No such person.", ["personId"])
                )
            check_version(household, expected_version, ["expectedVersion"])
            if current is not None:
                if current.household_id == household.id:
                    raise Refused(
                        Problem(
                            HouseholdErrorCode.SAME_HOUSEHOLD,
                            "This person is already a member of this household.",
                            ["personId"],
                        )
                    )
                raise Refused(
                    Problem(
                        HouseholdErrorCode.ALREADY_IN_HOUSEHOLD,
                        "This person belongs to another household: use moveHouseholdMember, "
                        "which closes that membership at the same instant.",
                        ["personId"],
                    )
                )
            assert new is not None
            await check_room(session, household.id, ["householdId"])
            at = await write_instant(session)
            (person_id,) = await insert_members(session, ctx, household, [new], at)
            touch(household, at)
    except Refused as refused:
        return Outcome(problems=refused.problems)
    return Outcome(household_id=household_id, person_ids=[person_id])


async def move_household_member(
    ctx: Context,
    person_id: uuid.UUID,
    to_household_id: uuid.UUID | None,
    relationship: Relationship,
    expected_version: int | None,
) -> Outcome:
    """Close the person's open membership and open the new one at the same instant, in an
    existing household or in a new one of the same territory.

    A new household is her own file, and stays as guarded as the one she left: it inherits
    its `protected` flag (a victim of violence given her own file stays out of partners'
    feeds and of other workers' searches until someone who accompanies her decides
    otherwise, in the VIOLENCE section), recorded in its CREATE event; and it is
    accompanied from the move's instant by whoever accompanies the household she left
    (`carry_accompaniments`: same user, same organisation), plus the actor if they are a
    social worker, as `createHousehold` does. The same when the SIAO makes the move: the
    SIAO accompanies nobody, so without the carried accompaniments she would be followed
    by nobody, and nobody could write her VIOLENCE section (only an accompanying worker
    may), hence nobody could keep or lift her protection. Those who followed her keep
    following her; they already saw everything of hers up to the move.

    Scope first: the statement that locks the person carries the row scope (she is seen
    through her current household), so a person the viewer may not see and one that does
    not exist take the same path to the same NOT_FOUND, before anything else is checked
    (SAME_HOUSEHOLD would otherwise tell who lives where)."""
    not_found = Problem(HouseholdErrorCode.NOT_FOUND, "No such person.", ["personId"])
    try:
        async with ctx.transaction() as session:
            # Lock the person first: concurrent moves of one person run one after the other
            # and each sees the previous one's result.
            locked = await session.scalar(
                select(Person.id)
                .where(Person.id == person_id, ctx.scope.persons(Person.id))
                .with_for_update()
            )
            if locked is None:
                raise Refused(not_found)
            # Read after the lock (a move that held it is seen), through the scope again.
            current = await visible_membership(session, ctx, person_id)
            if current is None:
                raise Refused(not_found)
            # Then both households, in id order, in one statement: the destination out of
            # scope and a nonexistent one run the same statement to the same NOT_FOUND.
            wanted = sorted({current.household_id, *([to_household_id] if to_household_id else [])})
            held = await lock_households(session, ctx, wanted)
            if to_household_id is not None and to_household_id not in held:
                raise Refused(
                    Problem(HouseholdErrorCode.NOT_FOUND, "No such household.", ["toHouseholdId"])
                )
            if current.household_id not in held:
                raise Refused(not_found)
            if to_household_id == current.household_id:
                raise Refused(
                    Problem(
                        HouseholdErrorCode.SAME_HOUSEHOLD,
                        "The person is already a member of this household.",
                        ["toHouseholdId"],
                    )
                )
            source = held[current.household_id]
            target: Household | None = None
            if to_household_id is not None:
                target = held[to_household_id]
                check_version(target, expected_version, ["expectedVersion"])
                await check_room(session, target.id, ["toHouseholdId"])
            at = await write_instant(session)
            if target is None:
                target = await new_household(
                    session, ctx, source.territory_code, at, protected=source.protected
                )
                await carry_accompaniments(session, ctx, source, target, at)
                relationship = Relationship.REFERENCE_PERSON
            current.validity = Range(current.validity.lower, at, bounds="[)")
            moved = Membership(
                id=uuid.uuid4(),
                person_id=person_id,
                household_id=target.id,
                relationship=relationship,
                validity=Range(at, None, bounds="[)"),
                created_at=at,
                created_by=ctx.authenticated.user_id,
            )
            session.add(moved)
            await session.flush()
            audit.record(
                session,
                ctx,
                at=at,
                action="MOVE_OUT",
                entity_type="Membership",
                entity_id=current.id,
                household_id=source.id,
                changes={
                    "validTo": {"before": None, "after": at.isoformat()},
                    "toHousehold": {"before": None, "after": str(target.id)},
                },
            )
            audit.record(
                session,
                ctx,
                at=at,
                action="MOVE_IN",
                entity_type="Membership",
                entity_id=moved.id,
                household_id=target.id,
                changes=audit.field_changes(
                    {},
                    {
                        "person": person_id,
                        "relationship": relationship,
                        "validFrom": at,
                        "fromHousehold": source.id,
                    },
                ),
            )
            touch(source, at)
            touch(target, at)
            still_there = await session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.household_id == source.id, func.upper_inf(Membership.validity))
            )
            if not still_there:
                source.closed_at = at
                audit.record(
                    session,
                    ctx,
                    at=at,
                    action="CLOSE",
                    entity_type="Household",
                    entity_id=source.id,
                    household_id=source.id,
                    changes={"closedAt": {"before": None, "after": at.isoformat()}},
                )
            target_id = target.id
    except Refused as refused:
        return Outcome(problems=refused.problems)
    return Outcome(household_id=target_id, person_ids=[person_id])
