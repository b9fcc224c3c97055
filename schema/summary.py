"""The header of the household record ("8 personnes dans ce ménage", the reference person,
"Sauvegardé le ... à ...")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.policy import Category
from resolvers import household as households
from resolvers import summary as resolve
from resolvers.loaders import Later, then
from schema.info import Info
from schema.permissions import sensitive

if TYPE_CHECKING:
    from schema.note import Note
    from schema.person import Person

PersonRef = Annotated["Person", strawberry.lazy("schema.person")]
NoteRef = Annotated["Note", strawberry.lazy("schema.note")]


@strawberry.type(
    description="The header of a household's record, in the same request as any of its tabs "
    "and at no extra cost per household. Each field is restricted like the data it counts."
)
class HouseholdSummary:
    row_id: strawberry.Private[uuid.UUID]
    recorded_activity_at: strawberry.Private[datetime]
    created_at: strawberry.Private[datetime]

    @strawberry.field(
        description='When the record last changed ("Sauvegardé le ... à ..."), as far as you '
        "may see: a change you are not shown does not move it."
    )
    def last_saved_at(self, info: Info) -> Later[datetime]:
        return households.last_activity(
            info.context, self.row_id, self.recorded_activity_at, self.created_at
        )

    @property
    def household_key(self) -> uuid.UUID:
        return self.row_id

    @sensitive(Category.IDENTITY_MIN, "How many people are in the household now.")
    def member_count(self, info: Info) -> Later[int | None]:
        return resolve.member_count(info.context, self.row_id)

    @sensitive(Category.IDENTITY_MIN, "The household's reference person now.")
    def reference_person(self, info: Info) -> Later[PersonRef | None]:
        from schema.person import person_from_row

        return then(resolve.reference_person(info.context, self.row_id), person_from_row)

    @sensitive(
        Category.DEMANDS,
        "How many of its demands are open (any status but CLOSED, CANCELLED and UNMET).",
    )
    def open_demands(self, info: Info) -> Later[int | None]:
        return resolve.open_demands(info.context, self.row_id)

    @sensitive(
        Category.FLASH_EVALUATION,
        "The vulnerability level (1-4) of its latest flash evaluation; null if none.",
    )
    def latest_flash_level(self, info: Info) -> Later[int | None]:
        return resolve.latest_flash_level(info.context, self.row_id)

    @sensitive(
        Category.NOTES,
        f"The notes pinned now, newest first (at most {resolve.PINNED_SHOWN}; the Notes tab "
        "lists them all).",
    )
    def pinned_notes(self, info: Info) -> Later[list[NoteRef] | None]:
        from schema.note import note_from_row

        return then(
            resolve.pinned_notes(info.context, self.row_id),
            lambda rows: [x for x in map(note_from_row, rows) if x is not None],
        )
