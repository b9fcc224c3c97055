"""Merging duplicate person records (undoing a merge: `resolvers.unmerge`).

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
Only sections (and attachments) of a category the actor may write move; the others stay on
the merged record too (listed as not moved).
Scope first: both records, and every record the merge would move or write about (all
their memberships and those households, the demands and notes that concern them, their
attachments), must lie within the actor's row scope; otherwise nothing happens and the
answer is NOT_FOUND, the same, from the same statement, as for an id that does not exist
(`merge_checks.within_scope`).
The checks are in `resolvers.merge_checks`, the moves in `resolvers.merge_moves`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from models import Attachment, Membership, Person, PersonMerge
from resolvers import audit
from resolvers.context import Context
from resolvers.merge_checks import (
    MergeErrorCode,
    inside,
    lock_mergeable,
    overlap,
    writable_sections,
)
from resolvers.merge_moves import (
    LINKS,
    close_emptied,
    dump_range,
    move_links,
    move_sections,
    rehome_demands,
)
from resolvers.writes import Problem, Refused, write_instant


def anchor(memberships: list[Membership]) -> uuid.UUID | None:
    """The household of the membership that started last: the one the person belongs to
    now, or the last one (memberships of a person never overlap)."""
    if not memberships:
        return None
    last = max(memberships, key=lambda m: m.validity.lower or datetime.min.replace(tzinfo=UTC))
    return last.household_id


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
            # Scope first: both records, locked by the statement that also checks that they
            # and everything a merge would move lie within the viewer's scope.
            kept, merged = await lock_mergeable(session, ctx, keep_id, merge_id)
            at = await write_instant(session)
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
                clash = [m for m in ours if overlap(m.validity, membership.validity)]
                if not clash:
                    moved.append(membership)
                elif drop_overlapping or all(
                    m.household_id == membership.household_id
                    and inside(membership.validity, m.validity)
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
                        "validity": dump_range(m.validity),
                        "created_at": m.created_at.isoformat(),
                        "created_by": str(m.created_by) if m.created_by else None,
                    }
                    for m in folded
                ],
                "repointed": [],
                "merged_version": merged.version,
            }
            snapshot["rehomed_demands"] = await rehome_demands(
                session, merged.id, kept.id, folded, ours
            )
            for membership in folded:
                await session.delete(membership)
            await session.flush()
            snapshot["closed_households"] = await close_emptied(
                session, ctx, {m.household_id for m in folded}, at
            )
            if moved:
                await session.execute(
                    update(Membership)
                    .where(Membership.id.in_([m.id for m in moved]))
                    .values(person_id=kept.id)
                )
            for moved_key, dropped_key, link, column in LINKS:
                snapshot[moved_key], snapshot[dropped_key] = await move_links(
                    session, link, column, merged.id, kept.id
                )
            movable = writable_sections(ctx)
            snapshot.update(await move_sections(session, merged.id, kept.id, movable))
            snapshot["repointed_attachments"] = [
                str(a)
                for a in (
                    await session.execute(
                        update(Attachment)
                        .where(Attachment.person_id == merged.id, Attachment.section.in_(movable))
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
            # Recorded where each record belongs now (or last): a household either of them
            # left sees nothing written after they left (DOMAIN.md), not even that their
            # record was merged.
            for household_id in {h for h in (anchor(theirs), anchor(ours)) if h is not None}:
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
