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
    Problem,
    Refused,
    check_version,
    clock,
    insert_members,
    lock_household,
    new_household,
    open_membership,
    person_problems,
    touch,
)


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
        problems = person_problems(new, ["person"])
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
            household = await lock_household(session, ctx, household_id, ["householdId"])
            check_version(household, expected_version, ["expectedVersion"])
            if existing_person_id is not None:
                current = await open_membership(session, existing_person_id)
                if current is not None and current.household_id == household.id:
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
            at = await clock(session)
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
    existing household or in a new one of the same territory."""
    try:
        async with ctx.transaction() as session:
            # Lock the person first: concurrent moves of one person run one after the other
            # and each sees the previous one's result.
            locked = await session.scalar(
                select(Person.id).where(Person.id == person_id).with_for_update()
            )
            current = await open_membership(session, person_id) if locked else None
            if current is None:
                raise Refused(
                    Problem(HouseholdErrorCode.NOT_FOUND, "No such person.", ["personId"])
                )
            if to_household_id == current.household_id:
                raise Refused(
                    Problem(
                        HouseholdErrorCode.SAME_HOUSEHOLD,
                        "The person is already a member of this household.",
                        ["toHouseholdId"],
                    )
                )
            # Then the households, in id order (no deadlock between two moves).
            wanted = sorted({current.household_id, *([to_household_id] if to_household_id else [])})
            held = {}
            for hid in wanted:
                path = ["toHouseholdId"] if hid == to_household_id else ["personId"]
                held[hid] = await lock_household(session, ctx, hid, path)
            source = held[current.household_id]
            target: Household | None = None
            if to_household_id is not None:
                target = held[to_household_id]
                check_version(target, expected_version, ["expectedVersion"])
            at = await clock(session)
            if target is None:
                target = await new_household(session, ctx, source.territory_code, at)
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
