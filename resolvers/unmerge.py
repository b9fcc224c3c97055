"""Undoing a merge of two person records (`resolvers.merge`).

`unmerge_persons` restores the pre-merge state as long as nothing was written on top: the
kept record unchanged, no membership added to it, no moved section saved since; and only
if everything it would move back lies within the viewer's row scope (NOT_FOUND otherwise,
as for a merge that does not exist).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Uuid, column, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from models import Attachment, Household, Membership, Person, PersonMerge, SituationRecord
from resolvers import audit
from resolvers.context import Context
from resolvers.merge_checks import MergeErrorCode, check_sections_unsaved, within_scope
from resolvers.merge_moves import DEMAND_ROWS, LINKS, load_range, restore_links
from resolvers.writes import Problem, Refused, write_instant


def _folded_outside(ctx: Context) -> Select[Any]:
    """The memberships a merge folded (kept in its snapshot) that belong to a household
    out of the viewer's row scope (correlated to `person_merges`)."""
    folded = (
        func.jsonb_array_elements(PersonMerge.snapshot["folded_memberships"])
        .table_valued(column("value", JSONB))
        .alias("folded")
    )
    household = folded.c.value["household_id"].astext.cast(Uuid)
    return select(literal(1)).select_from(folded).where(household.not_in(ctx.scope.household_ids()))


async def unmerge_persons(
    ctx: Context, merge_id: uuid.UUID
) -> tuple[uuid.UUID | None, list[Problem]]:
    """Restore the two records as they were, unless something was written on top."""
    not_found = Problem(MergeErrorCode.NOT_FOUND, "No such merge.", ["mergeId"])
    try:
        async with ctx.transaction() as session:
            # Scope first, in the statement that looks the merge up: the survivor and all
            # it holds (`within_scope`), and the households of the memberships the merge
            # folded (restored by the unmerge, their households reopened), lie within the
            # viewer's row scope. Otherwise NOT_FOUND, as for a merge that does not exist.
            record = await session.scalar(
                select(PersonMerge)
                .where(PersonMerge.id == merge_id, within_scope(ctx, PersonMerge.kept_id))
                .where(~exists(_folded_outside(ctx)))
                .with_for_update()
            )
            if record is None:
                raise Refused(not_found)
            # Then the survivor, locked (and through the scope again: it may have changed
            # between the two statements).
            kept = await session.scalar(
                select(Person)
                .where(Person.id == record.kept_id, within_scope(ctx, Person.id))
                .with_for_update()
            )
            if kept is None:
                raise Refused(not_found)
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
            at = await write_instant(session)
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
            # Recorded where each record belongs now (or last), like the merge.
            households: set[uuid.UUID] = set()
            for person_id in (kept.id, merged.id):
                last = await session.scalar(
                    select(Membership.household_id)
                    .where(Membership.person_id == person_id)
                    .order_by(func.lower(Membership.validity).desc())
                    .limit(1)
                )
                if last is not None:
                    households.add(last)
            for household_id in sorted(households):
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
