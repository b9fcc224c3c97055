"""Reading notes: a household's list (active pins first), one note, whom it concerns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from resolvers.arguments import field_of
from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.household import child_page
from resolvers.loaders import Later, now_or_later
from resolvers.node import decode_uuid
from resolvers.pagination import ResolvedPage
from resolvers.record_loaders import NoteFilter

SEARCH_MAX = 200


def note_filter(raw: Any) -> NoteFilter | None:
    """`Household.notes(filter:)` as a loader key, from strawberry's input object (the
    field's resolver) or from the query's arguments (`resolvers.prefetch`)."""
    if raw is None:
        return None
    member, author = field_of(raw, "member"), field_of(raw, "author")
    text = field_of(raw, "text")
    if text is not None:
        text = " ".join(str(text).split())
        if len(text) > SEARCH_MAX:
            raise bad_input(f"`text` is at most {SEARCH_MAX} characters.", field="filter")
    pinned = field_of(raw, "pinned")
    return NoteFilter(
        member=decode_uuid(member, "Person") if member else None,
        author=decode_uuid(author, "User") if author else None,
        text=text or None,
        pinned=None if pinned is None else bool(pinned),
    )


def notes(
    ctx: Context, household_id: uuid.UUID, filter: Any, first: int | None, after: str | None
) -> Later[ResolvedPage]:
    pages, counts = ctx.loaders.note_pages, ctx.loaders.note_counts
    return child_page(ctx, pages, counts, household_id, first, after, note_filter(filter))


def note(ctx: Context, note_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.note_by_id, note_id)


def concerned_persons(ctx: Context, note_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.concerned_by_note, note_id)


def is_pinned(ctx: Context, pinned_until: datetime | None) -> bool:
    """The same rule as the SQL of `NotePagesByHouseholdLoader`, at the same instant."""
    return pinned_until is not None and pinned_until > ctx.now
