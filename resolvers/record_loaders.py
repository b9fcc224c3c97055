"""Loaders of the household record's tabs: evaluations (pages, counts, the latest of each
kind). Same rules as `resolvers.loaders`: per request, one statement per batch, the row
scope inside the SQL."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, func, select

from models import Evaluation, EvaluationKind
from resolvers.loaders import (
    ChildCountLoader,
    ChildList,
    ChildPageLoader,
    ScopedByIdLoader,
    SqlLoader,
)

evaluations_t: Table = Evaluation.__table__  # type: ignore[assignment]


class _EvaluationList(ChildList):
    """Filter: an `EvaluationKind`, or None for every kind."""

    table = evaluations_t

    def conditions(self, filter: Any) -> list[Any]:
        return [] if filter is None else [self.table.c.kind == EvaluationKind(filter)]


class EvaluationPagesByHouseholdLoader(_EvaluationList, ChildPageLoader):
    time_column = "created_at"


class EvaluationCountByHouseholdLoader(_EvaluationList, ChildCountLoader):
    pass


class EvaluationByIdLoader(ScopedByIdLoader):
    table = evaluations_t


LatestKey = tuple[uuid.UUID, EvaluationKind]


class LatestEvaluationLoader(SqlLoader[LatestKey, Row[Any] | None]):
    """The latest evaluation of a kind for many households, in one statement: each
    (household, kind)'s evaluations numbered newest first, the first kept (what DISTINCT
    ON does, without SQLAlchemy 2.1's `distinct_on`)."""

    async def batch_load_fn(self, keys: list[LatestKey]) -> list[Row[Any] | None]:
        t = evaluations_t
        newest = (
            func.row_number()
            .over(
                partition_by=(t.c.household_id, t.c.kind),
                order_by=(t.c.created_at.desc(), t.c.id.desc()),
            )
            .label("newest")
        )
        inner = (
            select(t, newest)
            .where(
                t.c.household_id.in_({h for h, _ in keys}),
                t.c.kind.in_({k for _, k in keys}),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .subquery()
        )
        stmt = select(inner).where(inner.c.newest == 1)
        found = {(row.household_id, row.kind): row for row in await self.rows(stmt)}
        return [found.get(key) for key in keys]
