"""Territories, organisations and users (the professionals and partner systems)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from resolvers import organisation as resolve
from resolvers.loaders import Later, then
from resolvers.pagination import DEFAULT_PAGE
from schema.enums import OrganisationKind, Role, to_schema
from schema.info import Info
from schema.node import After, Connection, First, Node, connection_of, encode_id
from schema.permissions import sensitive

if TYPE_CHECKING:
    from schema.household import Household

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]


@strawberry.type(description="A département, by its code (`75`, `93`, `2A`, `971`...).")
class Territory(Node):
    code: str = strawberry.field(description="The département code.")
    name: str = strawberry.field(description="The département name.")


@strawberry.type(description="An organisation: a SIAO, a structure, an association...")
class Organisation(Node):
    name: str = strawberry.field(description="Name of the organisation.")
    kind: OrganisationKind = strawberry.field(description="What kind of organisation it is.")
    territory_code: strawberry.Private[str]
    row_id: strawberry.Private[Any]

    @strawberry.field(description="The territory the organisation works in.")
    def territory(self, info: Info) -> Later[Territory | None]:
        return then(resolve.territory(info.context, self.territory_code), territory_from_row)

    @sensitive(
        Category.ACCOMPANIMENTS,
        "The households the organisation accompanies now, by reference: only those you may "
        "see yourself (the SIAO: its territory's; a social worker: those they follow).",
    )
    def accompanied_households(
        self, info: Info, first: First = DEFAULT_PAGE, after: After = None
    ) -> Later[Connection[HouseholdRef] | None]:
        from resolvers.accompaniment import accompanied_households
        from schema.household import household_from_row

        return then(
            accompanied_households(info.context, self.row_id, first, after),
            lambda page: connection_of(page, household_from_row),
        )


@strawberry.type(description="A professional, a beneficiary or a partner system using the service.")
class User(Node):
    display_name: str = strawberry.field(description="Name to show (e.g. in the change log).")
    role: Role = strawberry.field(description="The user's role.")
    organisation_id: strawberry.Private[Any]

    @strawberry.field(description="The organisation the user works for, if any.")
    def organisation(self, info: Info) -> Later[Organisation | None]:
        if self.organisation_id is None:
            return None
        return then(resolve.organisation(info.context, self.organisation_id), organisation_from_row)


@strawberry.type(description="The viewer: who the bearer token identifies.")
class Me(User):
    login: str = strawberry.field(description="The login the token was issued for.")
    territory_code: str | None = strawberry.field(
        name="territory", description="Code of the viewer's territory, if any."
    )


def territory_from_row(row: Row[Any] | None) -> Territory | None:
    if row is None:
        return None
    return Territory(id=encode_id("Territory", row.code), code=row.code, name=row.name)


def organisation_from_row(row: Row[Any] | None) -> Organisation | None:
    if row is None:
        return None
    return Organisation(
        id=encode_id("Organisation", row.id),
        name=row.name,
        kind=to_schema(OrganisationKind, row.kind),
        territory_code=row.territory_code,
        row_id=row.id,
    )


def user_from_row(row: Row[Any] | None) -> User | None:
    if row is None:
        return None
    return User(
        id=encode_id("User", row.id),
        display_name=row.display_name,
        role=to_schema(Role, row.role),
        organisation_id=row.organisation_id,
    )
