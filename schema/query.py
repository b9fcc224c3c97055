"""The root Query."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from resolvers import household as households_resolve
from resolvers import organisation as organisation_resolve
from resolvers.errors import bad_input
from resolvers.loaders import then
from resolvers.node import load_node
from schema.audit import audit_event_from_row
from schema.demand import demand_from_row
from schema.household import Household, household_from_row, membership_from_row
from schema.node import Connection, Node, connection_of, decode_id, decode_uuid
from schema.organisation import (
    Me,
    organisation_from_row,
    territory_from_row,
    user_from_row,
)
from schema.person import person_from_row
from schema.search import SearchQuery

_CONVERT: dict[str, Any] = {
    "Household": household_from_row,
    "Person": person_from_row,
    "Demand": demand_from_row,
    "AuditEvent": audit_event_from_row,
    "User": user_from_row,
    "Organisation": organisation_from_row,
    "Territory": territory_from_row,
    "Membership": lambda row: None if row is None else membership_from_row(row),
}
MAX_NODES = 100


def _node(info: strawberry.Info, global_id: str) -> Any:
    type_name, raw = decode_id(global_id)
    return then(load_node(info.context, type_name, raw), _CONVERT[type_name])


@strawberry.input(description="Narrows the list of households.")
class HouseholdFilter:
    territory: str | None = strawberry.field(
        default=None, description="Only households of this territory code."
    )


@strawberry.type(
    description="Entry points for reading the household graph. Every answer is limited to "
    "what your token may see; anything else reads as not found."
)
class Query(SearchQuery):
    @strawberry.field(
        description="Any object by its global id; null if it does not exist or you may not see it."
    )
    def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        return _node(info, id)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Several objects by global id, in the same order; null where not visible."
    )
    async def nodes(
        self,
        info: strawberry.Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global ids (at most 100).")
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise bad_input(f"At most {MAX_NODES} ids at once.", field="ids")
        results = [_node(info, gid) for gid in ids]
        return [await r if hasattr(r, "__await__") else r for r in results]

    @strawberry.field(description="Who you are, according to your token.")
    async def me(self, info: strawberry.Info) -> Me:
        viewer = info.context.authenticated
        return Me(
            id=user_from_row(await organisation_resolve.viewer_row(info.context)).id,  # type: ignore[union-attr]
            display_name=viewer.display_name,
            role=viewer.role,
            organisation_id=viewer.organisation_id,
            login=viewer.login,
            territory_code=viewer.territory_code,
        )

    @strawberry.field(
        description="One household, by global `id` or by its 10-digit `reference` (give one)."
    )
    def household(
        self,
        info: strawberry.Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The household's global id.")
        ] = None,
        reference: Annotated[
            str | None, strawberry.argument(description="The 10-digit household reference.")
        ] = None,
    ) -> Household | None:
        if (id is None) == (reference is None):
            raise bad_input("Give exactly one of `id` and `reference`.")
        if id is not None:
            value = households_resolve.household(info.context, decode_uuid(id, "Household"))
        else:
            assert reference is not None
            value = households_resolve.household_by_reference(info.context, reference.strip())
        return then(value, household_from_row)  # type: ignore[no-any-return]

    @strawberry.field(description="The households you may see, ordered by reference.")
    async def households(
        self,
        info: strawberry.Info,
        filter: Annotated[
            HouseholdFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size (at most 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the previous page.")
        ] = None,
    ) -> Connection[Household]:
        page = await households_resolve.households(
            info.context, filter.territory if filter else None, first, after
        )
        return connection_of(page, household_from_row)
