"""The search view: minimal identity of persons one does not follow."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers.pagination import DEFAULT_PAGE
from resolvers.search import search_persons
from schema.enums import Sex, to_schema
from schema.info import Info
from schema.node import After, Connection, First, connection_of
from schema.permissions import sensitive


@strawberry.type(
    description="A person found by `searchPersons`: the minimal identity, the household "
    "reference and who accompanies the household, so that you know whom to call. It leads "
    "no further into the household."
)
class PersonSearchResult:
    first_name: str | None = sensitive(Category.IDENTITY_MIN, "First name(s).")
    last_name: str | None = sensitive(Category.IDENTITY_MIN, "Birth name.")
    usage_name: str | None = sensitive(Category.IDENTITY_MIN, "Name in use, if other.")
    birth_date: date | None = sensitive(Category.IDENTITY_MIN, "Date of birth, if known.")
    sex: Sex | None = sensitive(Category.IDENTITY_MIN, "Sex as declared.")
    household_reference: str | None = sensitive(
        Category.IDENTITY_MIN, "The household's 10-digit reference."
    )
    accompanying_organisations: list[str] = strawberry.field(
        description="Names of the organisations that accompany the household now (whom to call)."
    )
    score: float = strawberry.field(
        description="How well it matches: word similarity of the query to the names (0-1) + "
        "half their overall trigram similarity (0-0.5) + 1 if the birth date given matches. "
        "Results come best first."
    )


@strawberry.type(
    description="A non-blocking warning: the person just recorded may already exist (same "
    "birth date, same or close names). Check before going on; nothing was refused."
)
class DuplicateWarning:
    message: str = strawberry.field(description="What to check.")
    person_id: strawberry.ID = strawberry.field(description="The person just recorded.")
    candidates: list[PersonSearchResult] = strawberry.field(
        description="The persons it may duplicate, closest first."
    )


def duplicate_warnings(info: Info, person_ids: list[Any]) -> Awaitable[list[DuplicateWarning]]:
    """Warnings for the persons just recorded that have likely duplicates."""
    from schema.node import encode_id

    async def load() -> list[DuplicateWarning]:
        found = await info.context.loaders.duplicates_by_person.load_many(person_ids)
        return [
            DuplicateWarning(
                message=f"{len(rows)} person(s) of your territory have the same birth date "
                "and the same or close names.",
                person_id=encode_id("Person", pid),
                candidates=[result_from_row(r) for r in rows],
            )
            for pid, rows in zip(person_ids, found, strict=True)
            if rows
        ]

    return load()


def result_from_row(row: Row[Any]) -> PersonSearchResult:
    return PersonSearchResult(
        first_name=row.first_name,
        last_name=row.last_name,
        usage_name=row.usage_name,
        birth_date=row.birth_date,
        sex=to_schema(Sex, row.sex),
        household_reference=row.reference,
        accompanying_organisations=sorted(row.organisations or []),
        score=round(float(row.score), 4),
    )


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description="Find persons of your territory by name (any order, accents and case "
        "ignored) and/or birth date, including people you do not follow: only their minimal "
        "identity is shown. Persons of protected households appear only to those who "
        "accompany them. For social workers and SIAO operators. `totalCount` counts up to "
        "1,000 matches and then says 1,001: refine the search."
    )
    async def search_persons(
        self,
        info: Info,
        query: Annotated[
            str,
            strawberry.argument(
                description="Names or parts of names, in any order; accents, case, hyphens "
                "and small typos do not matter."
            ),
        ],
        birth_date: Annotated[
            date | None,
            strawberry.argument(description="Date of birth: ranks exact matches first."),
        ] = None,
        birth_year: Annotated[
            int | None, strawberry.argument(description="Only persons born this year.")
        ] = None,
        territory: Annotated[
            str | None, strawberry.argument(description="Your territory (the default).")
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[PersonSearchResult]:
        page = await search_persons(
            info.context,
            query,
            birth_date=birth_date,
            birth_year=birth_year,
            territory=territory,
            first=first,
            after=after,
        )
        return connection_of(page, result_from_row)
