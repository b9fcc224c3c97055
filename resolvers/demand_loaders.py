"""Loaders of demands (by id, the persons they concern, pages and counts by household) and
of their orientations and stays, within the row scope."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, select

from models import Demand, DemandPerson, Orientation, Stay
from models.lifecycle import OPEN_STATUSES
from resolvers.loader_base import (
    ChildCountLoader,
    ChildPageLoader,
    ConcernedPersonsLoader,
    ManyLoader,
    ScopedByIdLoader,
    many_per_key,
)

demands_t: Table = Demand.__table__
demand_persons_t: Table = DemandPerson.__table__
orientations_t: Table = Orientation.__table__
stays_t: Table = Stay.__table__


class DemandByIdLoader(ScopedByIdLoader):
    shows = "Demand"
    table = demands_t


class ConcernedPersonsByDemandIdLoader(ConcernedPersonsLoader):
    parent = demands_t
    link = demand_persons_t
    key = "demand_id"


class DemandPagesByHouseholdLoader(ChildPageLoader):
    shows = "Demand"
    table = demands_t
    time_column = "created_at"


OPEN_DEMANDS = "open"  # a CountKey filter: the demands not finished yet


class DemandCountByHouseholdLoader(ChildCountLoader):
    """Filter: None (every demand) or OPEN_DEMANDS."""

    shows = "Demand"

    table = demands_t

    def conditions(self, filter: Any) -> list[Any]:
        if filter == OPEN_DEMANDS:
            return [self.table.c.status.in_(sorted(OPEN_STATUSES))]
        return []


class _ByDemand(ManyLoader[uuid.UUID]):
    table: Table
    order: str

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = self.table
        stmt = (
            select(t)
            .where(t.c.demand_id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids()))
            .order_by(t.c[self.order], t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "demand_id")


class OrientationsByDemandLoader(_ByDemand):
    shows = "Orientation"
    table = orientations_t
    order = "proposed_at"


class StaysByDemandLoader(_ByDemand):
    shows = "Stay"
    table = stays_t
    order = "id"


class OrientationByIdLoader(ScopedByIdLoader):
    shows = "Orientation"
    table = orientations_t


class StayByIdLoader(ScopedByIdLoader):
    shows = "Stay"
    table = stays_t
