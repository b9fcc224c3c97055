"""Row scope: the one function that turns a viewer into the households it may see.

Threat stopped: a query path (list, nested field, `node`, mutation payload) that forgets
to filter and so serves another territory's households. Every loader and query takes a
`HouseholdScope`, which only `household_scope()` can build (the constructor checks a
private token), so forgetting the scope is a type error rather than a leak. An
out-of-scope household is filtered inside the SQL, so it reads as "not found".

Until the rights issue lands, a viewer sees the households of its own territory; a
viewer with no territory sees none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, false, select

from auth.viewer import Viewer
from models.household import Household

_TOKEN = object()


class HouseholdScope:
    __slots__ = ("_territory",)

    def __init__(self, token: object, territory: str | None) -> None:
        if token is not _TOKEN:
            raise TypeError("a HouseholdScope is built by auth.scope.household_scope() only")
        self._territory = territory

    def households(self, table: FromClause | type[Household] = Household) -> ColumnElement[bool]:
        """Predicate over a `households` table (or alias) in the caller's FROM clause."""
        columns: Any = table.c if isinstance(table, FromClause) else table
        if self._territory is None:
            return false()
        predicate: ColumnElement[bool] = columns.territory_code == self._territory
        return predicate

    def allows_territory(self, code: str) -> bool:
        """May the viewer create or hold households in this territory?"""
        return self._territory is not None and code == self._territory

    def household_ids(self) -> Select[Any]:
        """Subquery of visible household ids, for tables that reference a household."""
        return select(Household.id).where(self.households())


def household_scope(viewer: Viewer) -> HouseholdScope:
    return HouseholdScope(_TOKEN, viewer.territory_code)
