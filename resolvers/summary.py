"""The household record's header: what it counts and shows, from the loaders the record's
tabs already use (memberships, persons, demand counts, latest evaluation, notes), so that
asking for it costs no statement per household and, next to those tabs, almost none."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from models import EvaluationKind, Relationship
from resolvers.context import Context
from resolvers.demand_loaders import OPEN_DEMANDS
from resolvers.household import members
from resolvers.household_loaders import SeenPerson
from resolvers.loader_base import CountKey, PageKey
from resolvers.loaders import Later, now_or_later, then
from resolvers.record_loaders import NoteFilter

PINNED_SHOWN = 10  # the header shows at most this many pinned notes, the newest


def pinned_key(household_id: uuid.UUID) -> PageKey:
    """The same page as `Household.notes(first: 10, filter: {pinned: true})`."""
    return PageKey(household_id, PINNED_SHOWN, None, NoteFilter(pinned=True))


def open_key(household_id: uuid.UUID) -> CountKey:
    return CountKey(household_id, OPEN_DEMANDS)


def reference_membership(rows: list[Row[Any]]) -> Row[Any] | None:
    """The current member who is the reference person (the rows of `members`)."""
    return next((r for r in rows if r.relationship == Relationship.REFERENCE_PERSON), None)


def member_count(ctx: Context, household_id: uuid.UUID) -> Later[int]:
    return then(members(ctx, household_id, None), len)


def reference_person(ctx: Context, household_id: uuid.UUID) -> Later[SeenPerson | None]:
    def person_of(rows: list[Row[Any]]) -> Later[SeenPerson | None]:
        membership = reference_membership(rows)
        if membership is None:
            return None
        # The same loader as the members' persons: one statement for both.
        key = (membership.person_id, membership.household_id)
        return now_or_later(ctx.loaders.person_in_household, key)

    return then(members(ctx, household_id, None), person_of)


def open_demands(ctx: Context, household_id: uuid.UUID) -> Later[int]:
    return now_or_later(ctx.loaders.demand_counts, open_key(household_id))


def latest_flash_level(ctx: Context, household_id: uuid.UUID) -> Later[int | None]:
    return then(
        now_or_later(ctx.loaders.latest_evaluation, (household_id, EvaluationKind.FLASH)),
        lambda row: None if row is None else row.vulnerability_level,
    )


def pinned_notes(ctx: Context, household_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return then(now_or_later(ctx.loaders.note_pages, pinned_key(household_id)), lambda p: p.rows)
