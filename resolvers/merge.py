"""Merging duplicate person records, and undoing a merge.

`merge_persons(keep, merge)` moves the merged record's memberships, the demands and notes it
concerns, its own situation sections and its attachments to the kept one, in one
transaction, recording what it changed (the pre-merge state) in `person_merges`.
Invariant 1 is kept explicitly: a membership of the merged record that overlaps one of the
kept record's in the same household, and lies inside it, is the same fact entered twice and
is folded into it; any other overlap is refused (OVERLAPPING_MEMBERSHIPS) unless the caller
explicitly asks to drop the duplicate's overlapping memberships, so that a person is never
silently put in two households.
Situation sections (activity, administrative, medico-social: one per person and section)
are not merged field by field: each section the kept record lacks moves to it; where both
have the section, the kept record's stays and the duplicate's stays on the merged record,
listed in the snapshot as kept apart (so nothing is lost, and an unmerge finds it there).
`unmerge_persons` restores the pre-merge state as long as nothing was written on top: the
kept record unchanged, no membership added to it, no moved section saved since.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Attachment,
    Demand,
    DemandPerson,
    Household,
    Membership,
    NotePerson,
    Orientation,
    Person,
    PersonMerge,
    SituationRecord,
    Stay,
)
from resolvers import audit
from resolvers.context import Context
from resolvers.household_write import Problem, Refused, clock


class MergeErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    SAME_PERSON = "SAME_PERSON"
    ALREADY_MERGED = "ALREADY_MERGED"
    OVERLAPPING_MEMBERSHIPS = "OVERLAPPING_MEMBERSHIPS"
    ALREADY_UNDONE = "ALREADY_UNDONE"
    WRITTEN_SINCE = "WRITTEN_SINCE"


def _range(value: Range[datetime]) -> list[str | None]:
    return [
        value.lower.isoformat() if value.lower else None,
        value.upper.isoformat() if value.upper else None,
    ]


def _unrange(value: list[str | None]) -> Range[datetime]:
    lower, upper = (datetime.fromisoformat(v) if v else None for v in value)
    return Range(lower, upper, bounds="[)")


async def _visible_person(
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


async def merge_persons(
    ctx: Context, keep_id: uuid.UUID, merge_id: uuid.UUID, *, drop_overlapping: bool = False
) -> tuple[uuid.UUID | None, list[Problem]]:
    """`drop_overlapping`: the caller's explicit choice to remove the merged record's
    memberships that overlap the survivor's (kept in the merge record, restored by an
    unmerge); households left empty are closed (and reopened by an unmerge)."""
    if keep_id == merge_id:
        return None, [
            Problem(MergeErrorCode.SAME_PERSON, "Give two different persons.", ["mergeId"])
        ]
    try:
        async with ctx.transaction() as session:
            # Lock both records in id order (no deadlock with a merge the other way).
            first, second = sorted([(keep_id, "keepId"), (merge_id, "mergeId")])
            locked = {
                pid: await _visible_person(session, ctx, pid, field)
                for pid, field in (first, second)
            }
            kept, merged = locked[keep_id], locked[merge_id]
            at = await clock(session)
            ours = list(
                (
                    await session.scalars(select(Membership).where(Membership.person_id == kept.id))
                ).all()
            )
            theirs = list(
                (
                    await session.scalars(
                        select(Membership).where(Membership.person_id == merged.id)
                    )
                ).all()
            )
            moved, folded = [], []
            for membership in theirs:
                clash = [m for m in ours if _overlap(m.validity, membership.validity)]
                if not clash:
                    moved.append(membership)
                elif drop_overlapping or all(
                    m.household_id == membership.household_id
                    and _inside(membership.validity, m.validity)
                    for m in clash
                ):
                    folded.append(membership)
                else:
                    raise Refused(
                        Problem(
                            MergeErrorCode.OVERLAPPING_MEMBERSHIPS,
                            "The two records were in different households at the same time: "
                            "move one of them first (moveHouseholdMember), then merge.",
                            ["mergeId"],
                        )
                    )
            snapshot: dict[str, Any] = {
                "moved_memberships": [str(m.id) for m in moved],
                "folded_memberships": [
                    {
                        "id": str(m.id),
                        "household_id": str(m.household_id),
                        "relationship": m.relationship.value,
                        "validity": _range(m.validity),
                        "created_at": m.created_at.isoformat(),
                        "created_by": str(m.created_by) if m.created_by else None,
                    }
                    for m in folded
                ],
                "repointed": [],
                "merged_version": merged.version,
            }
            snapshot["rehomed_demands"] = await _rehome_demands(
                session, merged.id, kept.id, folded, ours
            )
            for membership in folded:
                await session.delete(membership)
            await session.flush()
            snapshot["closed_households"] = await _close_emptied(
                session, ctx, {m.household_id for m in folded}, at
            )
            if moved:
                await session.execute(
                    update(Membership)
                    .where(Membership.id.in_([m.id for m in moved]))
                    .values(person_id=kept.id)
                )
            for moved_key, dropped_key, link, column in _LINKS:
                snapshot[moved_key], snapshot[dropped_key] = await _move_links(
                    session, link, column, merged.id, kept.id
                )
            snapshot.update(await _move_sections(session, merged.id, kept.id))
            snapshot["repointed_attachments"] = [
                str(a)
                for a in (
                    await session.execute(
                        update(Attachment)
                        .where(Attachment.person_id == merged.id)
                        .values(person_id=kept.id)
                        .returning(Attachment.id)
                    )
                )
                .scalars()
                .all()
            ]
            repointed = (
                (
                    await session.execute(
                        update(Person)
                        .where(Person.merged_into_id == merged.id)
                        .values(merged_into_id=kept.id)
                        .returning(Person.id)
                    )
                )
                .scalars()
                .all()
            )
            snapshot["repointed"] = [str(p) for p in repointed]
            merged.merged_into_id = kept.id
            merged.version += 1
            merged.updated_at = at
            kept.version += 1
            kept.updated_at = at
            snapshot["kept_version"] = kept.version
            record = PersonMerge(
                id=uuid.uuid4(),
                kept_id=kept.id,
                merged_id=merged.id,
                at=at,
                actor_id=ctx.authenticated.user_id,
                snapshot=snapshot,
            )
            session.add(record)
            for household_id in {m.household_id for m in theirs + ours}:
                audit.record(
                    session,
                    ctx,
                    at=at,
                    action="MERGE",
                    entity_type="Person",
                    entity_id=kept.id,
                    household_id=household_id,
                    changes={"merged": {"before": str(merged.id), "after": str(kept.id)}},
                )
    except Refused as refused:
        return None, refused.problems
    return record.id, []


# The rows that follow a demand to another household.
_DEMAND_ROWS: list[tuple[Any, Any]] = [
    (Demand, Demand.id),
    (Orientation, Orientation.demand_id),
    (Stay, Stay.demand_id),
]


# The link tables that say whom a household's record concerns: the snapshot's keys for the
# links moved to the survivor and for those dropped (the survivor had them), the table, and
# its record column.
_LINKS: list[tuple[str, str, Any, Any]] = [
    ("moved_concerns", "dropped_concerns", DemandPerson, DemandPerson.demand_id),
    ("moved_note_concerns", "dropped_note_concerns", NotePerson, NotePerson.note_id),
]


async def _move_links(
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


async def _restore_links(
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


async def _move_sections(
    session: AsyncSession, merged_id: uuid.UUID, kept_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    """The duplicate's own situation sections (one per person and section): each one the
    survivor lacks moves to it, with the version it had (an unmerge refuses if it was
    saved since). Where both have the section, the survivor's stays and the duplicate's
    stays on the merged record: "kept apart", explicitly, never merged field by field."""
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
    moved = [r for r in theirs if r.section not in ours]
    snapshot = {
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


async def _rehome_demands(
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
        for table, column in _DEMAND_ROWS:
            await session.execute(
                update(table).where(column == demand_id).values(household_id=home)
            )
        rehomed.append([str(demand_id), str(household_id)])
    return rehomed


async def _close_emptied(
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


def _overlap(a: Range[datetime], b: Range[datetime]) -> bool:
    return a.overlaps(b)


def _inside(inner: Range[datetime], outer: Range[datetime]) -> bool:
    return inner.contained_by(outer)


async def _check_sections_unsaved(
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


async def unmerge_persons(
    ctx: Context, merge_id: uuid.UUID
) -> tuple[uuid.UUID | None, list[Problem]]:
    """Restore the two records as they were, unless something was written on top."""
    try:
        async with ctx.transaction() as session:
            record = await session.scalar(
                select(PersonMerge).where(PersonMerge.id == merge_id).with_for_update()
            )
            kept = (
                await _visible_person(session, ctx, record.kept_id, "mergeId")
                if record is not None
                else None
            )
            if record is None or kept is None:
                raise Refused(Problem(MergeErrorCode.NOT_FOUND, "No such merge.", ["mergeId"]))
            if record.undone_at is not None:
                raise Refused(
                    Problem(
                        MergeErrorCode.ALREADY_UNDONE, "This merge was already undone.", ["mergeId"]
                    )
                )
            snapshot = record.snapshot
            later = await session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.person_id == kept.id, Membership.created_at > record.at)
            )
            if kept.version != snapshot["kept_version"] or later:
                raise Refused(
                    Problem(
                        MergeErrorCode.WRITTEN_SINCE,
                        "The kept record changed after the merge; undoing it would lose that "
                        "change. Correct the record by hand instead.",
                        ["mergeId"],
                        current_version=kept.version,
                    )
                )
            await _check_sections_unsaved(session, kept.id, snapshot.get("moved_sections", []))
            merged = await session.get(Person, record.merged_id, with_for_update=True)
            assert merged is not None
            at = await clock(session)
            moved = [uuid.UUID(m) for m in snapshot["moved_memberships"]]
            if moved:
                await session.execute(
                    update(Membership).where(Membership.id.in_(moved)).values(person_id=merged.id)
                )
            for m in snapshot["folded_memberships"]:
                await session.execute(
                    insert(Membership).values(
                        id=uuid.UUID(m["id"]),
                        person_id=merged.id,
                        household_id=uuid.UUID(m["household_id"]),
                        relationship=m["relationship"],
                        validity=_unrange(m["validity"]),
                        created_at=datetime.fromisoformat(m["created_at"]),
                        created_by=uuid.UUID(m["created_by"]) if m["created_by"] else None,
                    )
                )
            for moved_key, dropped_key, link, column in _LINKS:
                await _restore_links(
                    session,
                    link,
                    column,
                    kept.id,
                    merged.id,
                    snapshot.get(moved_key, []),
                    snapshot.get(dropped_key, []),
                )
            sections = [uuid.UUID(r["id"]) for r in snapshot.get("moved_sections", [])]
            if sections:
                await session.execute(
                    update(SituationRecord)
                    .where(SituationRecord.id.in_(sections))
                    .values(person_id=merged.id)
                )
            attachments = [uuid.UUID(a) for a in snapshot.get("repointed_attachments", [])]
            if attachments:
                await session.execute(
                    update(Attachment)
                    .where(Attachment.id.in_(attachments), Attachment.person_id == kept.id)
                    .values(person_id=merged.id)
                )
            repointed = [uuid.UUID(p) for p in snapshot["repointed"]]
            if repointed:
                await session.execute(
                    update(Person).where(Person.id.in_(repointed)).values(merged_into_id=merged.id)
                )
            for demand_id, household_id in snapshot.get("rehomed_demands", []):
                for table, column in _DEMAND_ROWS:
                    await session.execute(
                        update(table)
                        .where(column == uuid.UUID(demand_id))
                        .values(household_id=uuid.UUID(household_id))
                    )
            reopened = [uuid.UUID(h) for h in snapshot.get("closed_households", [])]
            if reopened:
                await session.execute(
                    update(Household)
                    .where(Household.id.in_(reopened))
                    .values(closed_at=None, version=Household.version + 1, updated_at=at)
                )
            merged.merged_into_id = None
            merged.version += 1
            merged.updated_at = at
            kept.version += 1
            kept.updated_at = at
            record.undone_at = at
            record.undone_by = ctx.authenticated.user_id
            households = (
                (
                    await session.execute(
                        select(Membership.household_id)
                        .where(Membership.person_id.in_([kept.id, merged.id]))
                        .distinct()
                    )
                )
                .scalars()
                .all()
            )
            for household_id in households:
                audit.record(
                    session,
                    ctx,
                    at=at,
                    action="UNMERGE",
                    entity_type="Person",
                    entity_id=merged.id,
                    household_id=household_id,
                    changes={"merged": {"before": str(kept.id), "after": str(merged.id)}},
                )
    except Refused as refused:
        return None, refused.problems
    return merged.id, []
