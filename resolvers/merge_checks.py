"""What merging two person records, or undoing a merge, checks before it writes: the
refusal codes, the records' visibility (locked), how two memberships' periods compare, and
whether a moved situation section was saved since the merge."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from models import Membership, Person, SituationRecord
from resolvers.context import Context
from resolvers.household_write import Problem, Refused


class MergeErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    SAME_PERSON = "SAME_PERSON"
    ALREADY_MERGED = "ALREADY_MERGED"
    OVERLAPPING_MEMBERSHIPS = "OVERLAPPING_MEMBERSHIPS"
    ALREADY_UNDONE = "ALREADY_UNDONE"
    WRITTEN_SINCE = "WRITTEN_SINCE"


async def visible_person(
    session: AsyncSession, ctx: Context, person_id: uuid.UUID, field: str
) -> Person:
    person = await session.scalar(
        select(Person)
        .where(
            Person.id == person_id,
            Person.id.in_(
                select(Membership.person_id).where(
                    Membership.household_id.in_(ctx.scope.household_ids())
                )
            ),
        )
        .with_for_update()
    )
    if person is None:
        raise Refused(Problem(MergeErrorCode.NOT_FOUND, "No such person.", [field]))
    if person.merged_into_id is not None:
        raise Refused(
            Problem(
                MergeErrorCode.ALREADY_MERGED,
                "This record was already merged into another.",
                [field],
            )
        )
    return person


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
