"""What a merge moves from the duplicate person record to the survivor, and what an unmerge
moves back: the links saying whom a record concerns, the situation sections, the demands
re-homed with their orientations and stays, the households left empty (closed); and how a
period is kept in the merge's snapshot (`person_merges.snapshot`, JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import SituationSection
from models import (
    Demand,
    DemandPerson,
    Household,
    Membership,
    NotePerson,
    Orientation,
    SituationRecord,
    Stay,
)
from resolvers import audit
from resolvers.context import Context
from resolvers.merge_checks import MergeErrorCode
from resolvers.writes import Problem, Refused


def dump_range(value: Range[datetime]) -> list[str | None]:
    return [
        value.lower.isoformat() if value.lower else None,
        value.upper.isoformat() if value.upper else None,
    ]


def load_range(value: list[str | None]) -> Range[datetime]:
    lower, upper = (datetime.fromisoformat(v) if v else None for v in value)
    return Range(lower, upper, bounds="[)")


# The rows that follow a demand to another household.
DEMAND_ROWS: list[tuple[Any, Any]] = [
    (Demand, Demand.id),
    (Orientation, Orientation.demand_id),
    (Stay, Stay.demand_id),
]


# The link tables that say whom a household's record concerns: the snapshot's keys for the
# links moved to the survivor and for those dropped (the survivor had them), the table, and
# its record column.
LINKS: list[tuple[str, str, Any, Any]] = [
    ("moved_concerns", "dropped_concerns", DemandPerson, DemandPerson.demand_id),
    ("moved_note_concerns", "dropped_note_concerns", NotePerson, NotePerson.note_id),
]


async def move_links(
    session: AsyncSession, link: Any, column: Any, merged_id: uuid.UUID, kept_id: uuid.UUID
) -> tuple[list[str], list[str]]:
    """The duplicate's links become the survivor's; where the survivor already has the
    link, the duplicate's is dropped. Returns (moved, dropped) record ids."""
    theirs = list((await session.scalars(select(column).where(link.person_id == merged_id))).all())
    if not theirs:
        return [], []
    ours = set(
        (
            await session.scalars(
                select(column).where(link.person_id == kept_id, column.in_(theirs))
            )
        ).all()
    )
    if ours:
        await session.execute(delete(link).where(link.person_id == merged_id, column.in_(ours)))
    await session.execute(update(link).where(link.person_id == merged_id).values(person_id=kept_id))
    return [str(r) for r in theirs if r not in ours], [str(r) for r in theirs if r in ours]


async def restore_links(
    session: AsyncSession,
    link: Any,
    column: Any,
    kept_id: uuid.UUID,
    merged_id: uuid.UUID,
    moved: list[str],
    dropped: list[str],
) -> None:
    if moved:
        await session.execute(
            update(link)
            .where(link.person_id == kept_id, column.in_([uuid.UUID(r) for r in moved]))
            .values(person_id=merged_id)
        )
    if dropped:
        await session.execute(
            insert(link).values(
                [{column.key: uuid.UUID(r), "person_id": merged_id} for r in dropped]
            )
        )


async def move_sections(
    session: AsyncSession,
    merged_id: uuid.UUID,
    kept_id: uuid.UUID,
    movable: list[SituationSection],
) -> dict[str, list[dict[str, Any]]]:
    """The duplicate's own situation sections (one per person and section): each one the
    survivor lacks moves to it, with the version it had (an unmerge refuses if it was
    saved since). Where both have the section, the survivor's stays and the duplicate's
    stays on the merged record: "kept apart", explicitly, never merged field by field.
    A section not in `movable` (a category the actor may not write) stays too: "not
    moved"."""
    rows = (
        await session.scalars(
            select(SituationRecord)
            .where(SituationRecord.person_id.in_([merged_id, kept_id]))
            .order_by(SituationRecord.section)
            .with_for_update()
        )
    ).all()
    ours = {r.section: r for r in rows if r.person_id == kept_id}
    theirs = [r for r in rows if r.person_id == merged_id]
    moved = [r for r in theirs if r.section not in ours and r.section in movable]
    snapshot = {
        "not_moved_sections": [
            {"id": str(r.id), "section": r.section.value, "version": r.version}
            for r in theirs
            if r.section not in ours and r.section not in movable
        ],
        "moved_sections": [
            {"id": str(r.id), "section": r.section.value, "version": r.version} for r in moved
        ],
        "kept_apart_sections": [
            {
                "id": str(r.id),
                "section": r.section.value,
                "version": r.version,
                "survivor_section_id": str(ours[r.section].id),
            }
            for r in theirs
            if r.section in ours
        ],
    }
    if moved:
        await session.execute(
            update(SituationRecord)
            .where(SituationRecord.id.in_([r.id for r in moved]))
            .values(person_id=kept_id)
        )
    return snapshot


async def rehome_demands(
    session: AsyncSession,
    merged_id: uuid.UUID,
    kept_id: uuid.UUID,
    dropped: list[Membership],
    ours: list[Membership],
) -> list[list[str]]:
    """Invariant 3: a demand made for the duplicate in a household whose membership is
    dropped now belongs to the household the survivor was in at that time (with its
    orientations and stays); the original household is recorded for an unmerge."""
    if not dropped:
        return []
    dropped_households = {m.household_id for m in dropped}
    demands = (
        await session.execute(
            select(Demand.id, Demand.household_id, Demand.created_at)
            .join(DemandPerson, DemandPerson.demand_id == Demand.id)
            .where(
                DemandPerson.person_id == merged_id,
                Demand.household_id.in_(dropped_households),
            )
        )
    ).all()
    rehomed = []
    for demand_id, household_id, created_at in demands:
        home = next(
            (m.household_id for m in ours if created_at in m.validity),
            None,
        )
        if home is None:
            raise Refused(
                Problem(
                    MergeErrorCode.OVERLAPPING_MEMBERSHIPS,
                    "A demand of the duplicate dates from before the survivor's first "
                    "household: it cannot be re-homed.",
                    ["mergeId"],
                )
            )
        others = await session.scalar(
            select(func.count())
            .select_from(DemandPerson)
            .where(DemandPerson.demand_id == demand_id, DemandPerson.person_id != merged_id)
        )
        if others:
            raise Refused(
                Problem(
                    MergeErrorCode.OVERLAPPING_MEMBERSHIPS,
                    "A demand of the duplicate's household also concerns other members: "
                    "move the duplicate first (moveHouseholdMember), then merge.",
                    ["mergeId"],
                )
            )
        for table, column in DEMAND_ROWS:
            await session.execute(
                update(table).where(column == demand_id).values(household_id=home)
            )
        rehomed.append([str(demand_id), str(household_id)])
    return rehomed


async def close_emptied(
    session: AsyncSession, ctx: Context, household_ids: set[uuid.UUID], at: datetime
) -> list[str]:
    """Invariant 2: a household left with no current member is closed."""
    closed = []
    for household_id in sorted(household_ids):
        members = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.household_id == household_id, func.upper_inf(Membership.validity))
        )
        if members:
            continue
        await session.execute(
            update(Household)
            .where(Household.id == household_id, Household.closed_at.is_(None))
            .values(closed_at=at, version=Household.version + 1, updated_at=at)
        )
        audit.record(
            session,
            ctx,
            at=at,
            action="CLOSE",
            entity_type="Household",
            entity_id=household_id,
            household_id=household_id,
            changes={"closedAt": {"before": None, "after": at.isoformat()}},
        )
        closed.append(str(household_id))
    return closed
