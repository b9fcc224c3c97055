"""Notes between professionals, and their mutations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import audit
from resolvers import note as resolve
from resolvers import note_write as write
from resolvers.household import household as load_household
from resolvers.loaders import Later, then
from schema.errors import NoteUserError, user_errors
from schema.info import Info
from schema.node import Node, decode_uuid, encode_id
from schema.organisation import User, user_from_row
from schema.permissions import sensitive, writes
from schema.person import Person, persons_from_rows

if TYPE_CHECKING:
    from schema.household import Household

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]


@strawberry.type(
    description="A note between the professionals who follow a household: the single "
    "channel of informal exchange. Its author alone edits or deletes it; anyone who writes "
    "notes may pin it until a date, after which it falls back among the others by itself."
)
class Note(Node):
    title: str | None = sensitive(Category.NOTES, "The note's title (one line).")
    body: str | None = sensitive(Category.NOTES, "The note's text.")
    version: int = strawberry.field(
        description="Edit counter of the text; pass it as `expectedVersion` to `updateNote` "
        "(pinning does not change it)."
    )
    created_at: datetime = strawberry.field(description="When it was written.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    pinned_until: datetime | None = strawberry.field(
        description="The end of its pin, past or to come; null if not pinned."
    )
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]
    author_id: strawberry.Private[uuid.UUID | None]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @strawberry.field(
        description="Whether it is pinned now (until a date to come): pinned notes come first."
    )
    def is_pinned(self, info: Info) -> bool:
        return resolve.is_pinned(info.context, self.pinned_until)

    @sensitive(Category.NOTES, "The members the note is about (possibly none).")
    def concerned_persons(self, info: Info) -> Later[list[Person] | None]:
        return then(resolve.concerned_persons(info.context, self.row_id), persons_from_rows)

    @strawberry.field(description="Who wrote it.")
    def author(self, info: Info) -> Later[User | None]:
        if self.author_id is None:
            return None
        return then(audit.actor(info.context, self.author_id), user_from_row)

    @strawberry.field(description="The household it is about.")
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        from schema.household import household_from_row

        return then(load_household(info.context, self.household_id), household_from_row)


def note_from_row(row: Row[Any] | None) -> Note | None:
    if row is None:
        return None
    return Note(
        id=encode_id("Note", row.id),
        title=row.title,
        body=row.body,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        pinned_until=row.pinned_until,
        row_id=row.id,
        household_id=row.household_id,
        author_id=row.created_by,
    )


@strawberry.input(description="Narrows a household's notes; the criteria add up.")
class NoteFilter:
    member: strawberry.ID | None = strawberry.field(
        default=None, description="Only notes about this person (a member's id)."
    )
    author: strawberry.ID | None = strawberry.field(
        default=None, description="Only notes written by this user."
    )
    text: str | None = strawberry.field(
        default=None,
        description="Words to find in the title or text, in French, accents and word endings "
        'ignored ("hebergement" finds "hébergements"); `"exact phrase"`, `or` and `-word` '
        "work as in a search engine. At most 200 characters.",
    )
    pinned: bool | None = strawberry.field(
        default=None, description="Only notes pinned now (true) or not pinned now (false)."
    )


@strawberry.input(description="A new note about a household.")
class CreateNoteInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    title: str = strawberry.field(description="One line, at most 200 characters.")
    body: str = strawberry.field(description="The text, at most 20,000 characters.")
    concerned_person_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Current members the note is about (default: none)."
    )


@strawberry.input(description="Edit a note's text; omitted fields are left as they are.")
class UpdateNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note (one of yours).")
    expected_version: int = strawberry.field(
        description="The note's `version` as you read it (stale: STALE_VERSION)."
    )
    title: str | None = strawberry.field(default=strawberry.UNSET, description="New title.")
    body: str | None = strawberry.field(default=strawberry.UNSET, description="New text.")


@strawberry.input(description="Delete a note (one of yours).")
class DeleteNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note.")
    expected_version: int | None = strawberry.field(
        default=None, description="The note's `version` as you read it, to be sure."
    )


@strawberry.input(description="Pin a note until a date.")
class PinNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note.")
    until: datetime = strawberry.field(
        description="End of the pin, with its time zone: in the future, at most 366 days away."
    )


@strawberry.input(description="Unpin a note.")
class UnpinNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note.")


@strawberry.type(description="Result of a note mutation.")
class NotePayload:
    user_errors: list[NoteUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    note_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The note as it is now; null if refused.")
    def note(self, info: Info) -> Later[Note | None]:
        if self.note_id is None:
            return None
        return then(resolve.note(info.context, self.note_id), note_from_row)


@strawberry.type(description="Result of `deleteNote`.")
class DeleteNotePayload:
    user_errors: list[NoteUserError] = strawberry.field(
        description="Why nothing was deleted; empty on success."
    )
    deleted_note_id: strawberry.ID | None = strawberry.field(
        description="The id of the deleted note; null if refused."
    )


def _payload(written: write.Written) -> NotePayload:
    problems = written.problems or []
    return NotePayload(
        user_errors=user_errors(NoteUserError, problems),
        note_id=None if problems else written.note_id,
    )


def _kept(value: Any) -> Any:
    return write.UNSET if value is strawberry.UNSET or value is None else value


@strawberry.type
class NoteMutations:
    @writes(Category.NOTES, "Write a note about a household.")
    async def create_note(
        self,
        info: Info,
        input: Annotated[CreateNoteInput, strawberry.argument(description="The note.")],
    ) -> NotePayload:
        return _payload(
            await write.create_note(
                info.context,
                decode_uuid(input.household_id, "Household"),
                input.title,
                input.body,
                [decode_uuid(p, "Person") for p in input.concerned_person_ids],
            )
        )

    @writes(Category.NOTES, "Edit one of your notes (NOT_AUTHOR for someone else's).")
    async def update_note(
        self,
        info: Info,
        input: Annotated[UpdateNoteInput, strawberry.argument(description="The edit.")],
    ) -> NotePayload:
        return _payload(
            await write.update_note(
                info.context,
                decode_uuid(input.note_id, "Note"),
                input.expected_version,
                _kept(input.title),
                _kept(input.body),
            )
        )

    @writes(
        Category.NOTES,
        "Delete one of your notes (NOT_AUTHOR for someone else's). The change log keeps it.",
    )
    async def delete_note(
        self,
        info: Info,
        input: Annotated[DeleteNoteInput, strawberry.argument(description="Which note.")],
    ) -> DeleteNotePayload:
        written = await write.delete_note(
            info.context, decode_uuid(input.note_id, "Note"), input.expected_version
        )
        problems = written.problems or []
        return DeleteNotePayload(
            user_errors=user_errors(NoteUserError, problems),
            deleted_note_id=None if problems else input.note_id,
        )

    @writes(Category.NOTES, "Pin a note until a date: it comes first in the list until then.")
    async def pin_note(
        self,
        info: Info,
        input: Annotated[PinNoteInput, strawberry.argument(description="The pin.")],
    ) -> NotePayload:
        return _payload(
            await write.pin_note(info.context, decode_uuid(input.note_id, "Note"), input.until)
        )

    @writes(Category.NOTES, "Unpin a note now (nothing happens if it is not pinned).")
    async def unpin_note(
        self,
        info: Info,
        input: Annotated[UnpinNoteInput, strawberry.argument(description="Which note.")],
    ) -> NotePayload:
        return _payload(
            await write.pin_note(info.context, decode_uuid(input.note_id, "Note"), None)
        )
