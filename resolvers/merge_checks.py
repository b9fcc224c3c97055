"""What merging two person records, or undoing a merge, checks before it writes: the
refusal codes, the records' scope (checked in the statement that locks them), the sections
the viewer may move, how two memberships' periods compare, and whether a moved situation
section was saved since the merge."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import SITUATION_CATEGORY, Access, SituationSection
from models import (
    Attachment,
    Demand,
    DemandPerson,
    Membership,
    Note,
    NotePerson,
    Person,
    SituationRecord,
)
from models.situation import PERSON_SECTIONS
from resolvers.context import Context
from resolvers.writes import Problem, Refused


class MergeErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    SAME_PERSON = "SAME_PERSON"
    ALREADY_MERGED = "ALREADY_MERGED"
    OVERLAPPING_MEMBERSHIPS = "OVERLAPPING_MEMBERSHIPS"
    ALREADY_UNDONE = "ALREADY_UNDONE"
    WRITTEN_SINCE = "WRITTEN_SINCE"


def within_scope(ctx: Context, person_id: Any) -> ColumnElement[bool]:
    """Predicate: the viewer may see the person (through her anchor household) AND every
    record a merge or an unmerge would move or write about lies in households the viewer's
    row scope covers: all her memberships (past ones included: their households receive
    the MERGE events, a demand may be re-homed into them), the demands and notes that
    concern her, her attachments. (Her own situation sections belong to her.)

    Threat stopped: a merge used as a side door, accepting a person on an "ever a member"
    rule and then moving her whole record (memberships, demands, sections written by
    another organisation) into the actor's household, out of one the actor may not even
    see. Evaluated in the statement that locks the person, so such a person, one out of
    scope and one that does not exist all answer NOT_FOUND by the same single statement."""
    visible = ctx.scope.household_ids()
    predicate: ColumnElement[bool] = and_(
        ctx.scope.persons(person_id),
        ~exists().where(Membership.person_id == person_id, Membership.household_id.not_in(visible)),
        ~exists().where(
            DemandPerson.person_id == person_id,
            Demand.id == DemandPerson.demand_id,
            Demand.household_id.not_in(visible),
        ),
        ~exists().where(
            NotePerson.person_id == person_id,
            Note.id == NotePerson.note_id,
            Note.household_id.not_in(visible),
        ),
        ~exists().where(Attachment.person_id == person_id, Attachment.household_id.not_in(visible)),
    )
    return predicate


async def lock_mergeable(
    session: AsyncSession, ctx: Context, keep_id: uuid.UUID, merge_id: uuid.UUID
) -> tuple[Person, Person]:
    """Both records, locked in id order (no deadlock with a merge the other way) by ONE
    statement that keeps only those for which `within_scope` holds: an id out of scope, or
    whose record reaches out of it, answers NOT_FOUND exactly as one that does not exist
    (same message and field, same statement, whatever the order of the ids)."""
    rows = await session.scalars(
        select(Person)
        .where(Person.id.in_([keep_id, merge_id]), within_scope(ctx, Person.id))
        .order_by(Person.id)
        .with_for_update()
    )
    locked = {person.id: person for person in rows}
    for person_id, field in ((keep_id, "keepId"), (merge_id, "mergeId")):
        if person_id not in locked:
            raise Refused(Problem(MergeErrorCode.NOT_FOUND, "No such person.", [field]))
    for person_id, field in ((keep_id, "keepId"), (merge_id, "mergeId")):
        if locked[person_id].merged_into_id is not None:
            raise Refused(
                Problem(
                    MergeErrorCode.ALREADY_MERGED,
                    "This record was already merged into another.",
                    [field],
                )
            )
    return locked[keep_id], locked[merge_id]


def writable_sections(ctx: Context) -> list[SituationSection]:
    """The person sections whose category the viewer may write: only those (and their
    attachments) move in a merge; the others stay on the merged record, like a section the
    survivor already has. Refusing instead would tell a viewer who may not even read a
    category (the SIAO and HEALTH) whether the duplicate has such a section."""
    viewer = ctx.authenticated
    return [
        section
        for section in PERSON_SECTIONS
        if viewer.may(SITUATION_CATEGORY[section], Access.WRITE)
    ]


def overlap(a: Range[datetime], b: Range[datetime]) -> bool:
    return a.overlaps(b)


def inside(inner: Range[datetime], outer: Range[datetime]) -> bool:
    return inner.contained_by(outer)


async def check_sections_unsaved(
    session: AsyncSession, kept_id: uuid.UUID, moved: list[dict[str, Any]]
) -> None:
    """Refuse (WRITTEN_SINCE) if a section the merge moved was saved since: moving it
    back would take that save away from the survivor. Locks them against a concurrent save."""
    if not moved:
        return
    now = {
        row.id: (row.person_id, row.version)
        for row in (
            await session.execute(
                select(SituationRecord.id, SituationRecord.person_id, SituationRecord.version)
                .where(SituationRecord.id.in_([uuid.UUID(r["id"]) for r in moved]))
                .with_for_update()
            )
        ).all()
    }
    saved = [r["section"] for r in moved if now.get(uuid.UUID(r["id"])) != (kept_id, r["version"])]
    if saved:
        raise Refused(
            Problem(
                MergeErrorCode.WRITTEN_SINCE,
                f"The situation section(s) {', '.join(saved)} moved to the kept record by the "
                "merge were saved since; undoing it would take that change away from the kept "
                "record. Correct the records by hand instead.",
                ["mergeId"],
            )
        )
