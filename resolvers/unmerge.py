"""Undoing a merge of two person records (`resolvers.merge`).

`unmerge_persons` restores the pre-merge state as long as nothing was written on top: the
kept record unchanged, no membership added to it, no moved section saved since.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select, update

from models import Attachment, Household, Membership, Person, PersonMerge, SituationRecord
from resolvers import audit
from resolvers.context import Context
from resolvers.household_write import Problem, Refused, clock
from resolvers.merge_checks import MergeErrorCode, check_sections_unsaved, visible_person
from resolvers.merge_moves import DEMAND_ROWS, LINKS, load_range, restore_links


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
                await visible_person(session, ctx, record.kept_id, "mergeId")
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
            await check_sections_unsaved(session, kept.id, snapshot.get("moved_sections", []))
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
                        validity=load_range(m["validity"]),
                        created_at=datetime.fromisoformat(m["created_at"]),
                        created_by=uuid.UUID(m["created_by"]) if m["created_by"] else None,
                    )
                )
            for moved_key, dropped_key, link, column in LINKS:
                await restore_links(
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
                for table, column in DEMAND_ROWS:
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
