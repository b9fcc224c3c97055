"""Persons."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import person as resolve
from resolvers.household_loaders import SeenPerson
from resolvers.loaders import Later, now_or_later, then
from schema.enums import Sex, to_schema
from schema.household import Household, Membership, household_from_row, memberships_from_rows
from schema.info import Info
from schema.node import Node, encode_id
from schema.permissions import sensitive
from schema.search import PersonSearchResult, result_from_row


@strawberry.type(description="A human being; in exactly one household at any instant.")
class Person(Node):
    first_name: str | None = sensitive(
        Category.IDENTITY_MIN, "First name(s), as the person gives them."
    )
    last_name: str | None = sensitive(Category.IDENTITY_MIN, "Birth name (nom de naissance).")
    usage_name: str | None = sensitive(
        Category.IDENTITY_MIN,
        "Name in use (nom d'usage), e.g. a spouse's name; null if the same.",
    )
    birth_date: date | None = sensitive(Category.IDENTITY_MIN, "Date of birth, if known.")
    sex: Sex | None = sensitive(Category.IDENTITY_MIN, "Sex as declared.")
    nationality: str | None = sensitive(Category.IDENTITY, "Nationality, as declared.")
    phone: str | None = sensitive(Category.IDENTITY, "Phone number to reach the person.")
    version: int = strawberry.field(
        description="Edit counter; pass it as `expectedVersion` to `updatePerson`."
    )
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="When the record was last edited.")
    as_of: datetime | None = strawberry.field(
        description="Null when this is the person's record now. Otherwise you see her through a "
        "household she left, which you follow, and not the one she belongs to now: what is "
        "shown is her identity as it was when she left, at this instant, and nothing written "
        "since (not where she went)."
    )
    row_id: strawberry.Private[uuid.UUID]

    @sensitive(
        Category.IDENTITY_MIN,
        "The household the person belongs to now; null if you do not follow it.",
    )
    def current_household(self, info: Info) -> Later[Household | None]:
        if self.as_of is not None:
            return None
        return then(resolve.current_household(info.context, self.row_id), household_from_row)

    @sensitive(
        Category.IDENTITY_MIN,
        "Persons of your territory who may be the same person (same birth date, same or "
        "close names), shown as the search view shows them. Empty without a birth date.",
    )
    def duplicate_candidates(self, info: Info) -> Later[list[PersonSearchResult] | None]:
        if self.as_of is not None:
            return []
        return then(
            now_or_later(info.context.loaders.duplicates_by_person, self.row_id),
            _search_results,
        )

    @sensitive(
        Category.IDENTITY_MIN,
        "Every household the person has belonged to that you may see, oldest first.",
    )
    def memberships(self, info: Info) -> Later[list[Membership] | None]:
        return then(resolve.memberships(info.context, self.row_id), memberships_from_rows)


def _search_results(rows: list[Row[Any]]) -> list[PersonSearchResult]:
    return [result_from_row(r) for r in rows]


def person_from_row(row: Row[Any] | SeenPerson | None) -> Person | None:
    """A person's row, or the person as the viewer sees her through a household."""
    if row is None:
        return None
    return Person(
        id=encode_id("Person", row.id),
        first_name=row.first_name,
        last_name=row.last_name,
        usage_name=row.usage_name,
        birth_date=row.birth_date,
        sex=to_schema(Sex, row.sex),
        nationality=row.nationality,
        phone=row.phone,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        as_of=row.as_of,
        row_id=row.id,
    )


def persons_from_rows(rows: Sequence[Row[Any] | SeenPerson]) -> list[Person]:
    return [p for p in (person_from_row(r) for r in rows) if p is not None]
