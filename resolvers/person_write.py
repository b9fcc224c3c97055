"""updatePerson: field edits of a person, with optimistic concurrency (invariant 5)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from models import Membership, Person, Sex
from resolvers import audit
from resolvers.context import Context
from resolvers.household_write import Outcome, person_values
from resolvers.validation import birth_date_problem, clean_name, name_problem
from resolvers.writes import Problem, Refused, bump_activity, write_instant


class PersonErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    STALE_VERSION = "STALE_VERSION"
    INVALID_NAME = "INVALID_NAME"
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"


UNSET: Any = object()


@dataclass(frozen=True)
class PersonPatch:
    """Fields left UNSET are not touched; `usageName: null` clears the usage name."""

    first_name: Any = UNSET
    last_name: Any = UNSET
    usage_name: Any = UNSET
    birth_date: Any = UNSET
    sex: Any = UNSET


def _problems(patch: PersonPatch, now: datetime) -> list[Problem]:
    problems: list[Problem] = []
    for attr, field, required in (
        ("first_name", "firstName", True),
        ("last_name", "lastName", True),
        ("usage_name", "usageName", False),
    ):
        value = getattr(patch, attr)
        if value is UNSET:
            continue
        problem = name_problem(value, required=required)
        if problem:
            problems.append(Problem(PersonErrorCode.INVALID_NAME, f"{field} {problem}.", [field]))
    if patch.birth_date is not UNSET:
        problem = birth_date_problem(patch.birth_date, now)
        if problem:
            problems.append(
                Problem(PersonErrorCode.INVALID_BIRTH_DATE, f"birthDate {problem}.", ["birthDate"])
            )
    return problems


async def update_person(
    ctx: Context, person_id: uuid.UUID, expected_version: int, patch: PersonPatch
) -> Outcome:
    problems = _problems(patch, ctx.now)
    if problems:
        return Outcome(problems=problems)
    try:
        async with ctx.transaction() as session:
            current = await session.scalar(
                select(Membership).where(
                    Membership.person_id == person_id,
                    func.upper_inf(Membership.validity),
                    Membership.household_id.in_(ctx.scope.household_ids()),
                )
            )
            person = (
                await session.scalar(select(Person).where(Person.id == person_id).with_for_update())
                if current is not None
                else None
            )
            if person is None or current is None:
                raise Refused(Problem(PersonErrorCode.NOT_FOUND, "No such person.", ["personId"]))
            if person.version != expected_version:
                raise Refused(
                    Problem(
                        PersonErrorCode.STALE_VERSION,
                        f"The person changed since you read it (version {expected_version}, now "
                        f"{person.version}); reload and apply your change again.",
                        ["expectedVersion"],
                        current_version=person.version,
                    )
                )
            before = person_values(person)
            if patch.first_name is not UNSET:
                person.first_name = clean_name(patch.first_name)
            if patch.last_name is not UNSET:
                person.last_name = clean_name(patch.last_name)
            if patch.usage_name is not UNSET:
                person.usage_name = clean_name(patch.usage_name) if patch.usage_name else None
            if patch.birth_date is not UNSET:
                person.birth_date = patch.birth_date
            if patch.sex is not UNSET:
                person.sex = Sex(patch.sex)
            changes = audit.field_changes(before, person_values(person))
            if changes:
                at = await write_instant(session)
                person.version += 1
                person.updated_at = at
                audit.record(
                    session,
                    ctx,
                    at=at,
                    action="UPDATE",
                    entity_type="Person",
                    entity_id=person.id,
                    household_id=current.household_id,
                    changes=changes,
                )
                await bump_activity(session, current.household_id, at)
    except Refused as refused:
        return Outcome(problems=refused.problems)
    return Outcome(household_id=current.household_id, person_ids=[person_id])
