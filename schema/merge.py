"""Merging duplicate persons, and undoing a merge."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.policy import Category
from resolvers import merge as write
from resolvers import unmerge
from resolvers.loaders import Later, now_or_later, then
from resolvers.merge_checks import MergeErrorCode as _MergeErrorCode
from schema.enums import described_enum
from schema.errors import UserError, user_errors
from schema.info import Info
from schema.node import decode_uuid, encode_id
from schema.permissions import writes
from schema.person import Person, person_from_row

if TYPE_CHECKING:
    MergeErrorCode = _MergeErrorCode
else:
    MergeErrorCode = described_enum(
        _MergeErrorCode,
        "Why a merge (or its undoing) was refused.",
        {
            _MergeErrorCode.NOT_FOUND: "No such person or merge, or not visible to you, "
            "or the merge (or its undoing) would move or write a record of a household you "
            "do not follow: nothing was changed.",
            _MergeErrorCode.SAME_PERSON: "The two ids are the same person.",
            _MergeErrorCode.ALREADY_MERGED: "A record was already merged into another.",
            _MergeErrorCode.OVERLAPPING_MEMBERSHIPS: "The records were in different "
            "households at the same time: move one first, then merge.",
            _MergeErrorCode.ALREADY_UNDONE: "The merge was already undone.",
            _MergeErrorCode.WRITTEN_SINCE: "The kept record, or a situation section the "
            "merge moved to it, changed after the merge: undoing it would lose that change.",
        },
    )


@strawberry.type(description="Why a merge (or its undoing) was refused.")
class MergeUserError(UserError):
    code: MergeErrorCode = strawberry.field(description="Machine-readable reason.")


@strawberry.type(description="Result of `mergePersons` or `unmergePersons`.")
class MergePayload:
    user_errors: list[MergeUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    merge_id: strawberry.ID | None = strawberry.field(
        description="The merge (pass it to `unmergePersons` to undo it)."
    )
    person_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The surviving record (merge) or the restored record (unmerge).")
    def person(self, info: Info) -> Later[Person | None]:
        if self.person_id is None:
            return None
        return then(
            now_or_later(info.context.loaders.person_by_id, self.person_id), person_from_row
        )


@strawberry.input(description="Two records of the same person.")
class MergePersonsInput:
    keep_id: strawberry.ID = strawberry.field(description="The record that survives.")
    merge_id: strawberry.ID = strawberry.field(
        description="The duplicate: its memberships, the demands and notes it concerns, its "
        "situation sections and its attachments move to the survivor, and `node(id:)` of it "
        "then answers the survivor."
    )
    drop_overlapping_memberships: bool = strawberry.field(
        default=False,
        description="Remove the duplicate's memberships that overlap the survivor's (the "
        "usual case: the same person recorded in a second household); households left empty "
        "are closed. Without it such a merge answers OVERLAPPING_MEMBERSHIPS. An unmerge "
        "restores them.",
    )


@strawberry.input(description="A merge to undo.")
class UnmergePersonsInput:
    merge_id: strawberry.ID = strawberry.field(description="The `mergeId` of `mergePersons`.")


@strawberry.type
class MergeMutations:
    @writes(
        Category.IDENTITY_MIN,
        "Merge a duplicate person record into another: memberships, the demands and notes it "
        "concerns, its own situation sections (activity, administrative, medico-social), its "
        "attachments and history move to the survivor, the pre-merge state is recorded, and "
        "it can be undone. Situation sections are not merged field by field: a section only "
        "the duplicate has becomes the survivor's; where both have the same section, the "
        "survivor's is kept and the duplicate's stays on the merged record (no longer shown; "
        "an unmerge brings it back), so compare and copy what matters before merging. "
        "Both records, and all they hold (memberships and their households, the demands and "
        "notes about them, their attachments), must lie in households you follow: otherwise "
        "NOT_FOUND, as for an id that does not exist, and nothing changes. A section (or "
        "attachment) of a category you may not write does not move: it stays on the merged "
        "record, like one the survivor already has.",
    )
    async def merge_persons(
        self,
        info: Info,
        input: Annotated[MergePersonsInput, strawberry.argument(description="The records.")],
    ) -> MergePayload:
        keep = decode_uuid(input.keep_id, "Person")
        merge_id, problems = await write.merge_persons(
            info.context,
            keep,
            decode_uuid(input.merge_id, "Person"),
            drop_overlapping=input.drop_overlapping_memberships,
        )
        return MergePayload(
            user_errors=user_errors(MergeUserError, problems),
            merge_id=encode_id("PersonMerge", merge_id) if merge_id else None,
            person_id=keep if merge_id else None,
        )

    @writes(
        Category.IDENTITY_MIN,
        "Undo a merge, as long as nothing was written on top since: the survivor not edited "
        "and no situation section the merge moved to it saved (otherwise WRITTEN_SINCE, and "
        "nothing changes). Everything it restores must lie in households you follow "
        "(otherwise NOT_FOUND, as for a merge that does not exist).",
    )
    async def unmerge_persons(
        self,
        info: Info,
        input: Annotated[UnmergePersonsInput, strawberry.argument(description="The merge.")],
    ) -> MergePayload:
        restored, problems = await unmerge.unmerge_persons(
            info.context, decode_uuid(input.merge_id, "PersonMerge")
        )
        return MergePayload(
            user_errors=user_errors(MergeUserError, problems), merge_id=None, person_id=restored
        )
