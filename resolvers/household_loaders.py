"""Loaders of households, persons and memberships, within the row scope."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, exists, func, select

from models import Household, Membership, Person
from resolvers.loader_base import ScopedByIdLoader, SqlLoader, many_per_key, one_per_key

households_t: Table = Household.__table__  # type: ignore[assignment]
persons_t: Table = Person.__table__  # type: ignore[assignment]
memberships_t: Table = Membership.__table__  # type: ignore[assignment]


class HouseholdByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.id.in_(keys), self.ctx.scope.households(households_t)
        )
        return one_per_key(await self.rows(stmt), keys)


class HouseholdByReferenceLoader(SqlLoader[str, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.reference.in_(keys), self.ctx.scope.households(households_t)
        )
        rows = await self.rows(stmt)
        for row in rows:
            self.ctx.loaders.household_by_id.prime(row.id, row)
        return one_per_key(rows, keys, "reference")


class PersonByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """A person is visible when one of their memberships (past or present) is in a visible
    household. The id of a record merged into another answers the survivor."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        asked = persons_t.alias("asked")
        visible = exists().where(
            memberships_t.c.person_id == persons_t.c.id,
            memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
        )
        stmt = (
            select(persons_t, asked.c.id.label("asked_id"))
            .select_from(asked)
            .join(persons_t, persons_t.c.id == func.coalesce(asked.c.merged_into_id, asked.c.id))
            .where(asked.c.id.in_(keys), visible)
        )
        return one_per_key(await self.rows(stmt), keys, "asked_id")


class MembershipsByHouseholdIdLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    """Every membership of each household, history included, oldest first."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.household_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class MembershipsByPersonIdLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    """A person's memberships in visible households, oldest first."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.person_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "person_id")


class MembershipByIdLoader(ScopedByIdLoader):
    table = memberships_t
