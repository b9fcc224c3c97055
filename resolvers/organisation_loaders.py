"""Loaders of what is not personal data of households: professionals (users), their
organisations, territories, structures and their places."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, select

from models import Organisation, OrganisationKind, Place, Territory, User
from resolvers.loader_base import SqlLoader, many_per_key, one_per_key

users_t: Table = User.__table__  # type: ignore[assignment]
organisations_t: Table = Organisation.__table__  # type: ignore[assignment]
territories_t: Table = Territory.__table__  # type: ignore[assignment]
places_t: Table = Place.__table__  # type: ignore[assignment]


class UserByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Professionals are not personal data of households: their name, role and
    organisation are visible to any authenticated viewer (who did what)."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(users_t).where(users_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class OrganisationByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(organisations_t).where(organisations_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class TerritoryByCodeLoader(SqlLoader[str, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(territories_t).where(territories_t.c.code.in_(keys))
        return one_per_key(await self.rows(stmt), keys, "code")


class StructureByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Structures (organisations of kind STRUCTURE) are not personal data."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(organisations_t).where(
            organisations_t.c.id.in_(keys),
            organisations_t.c.kind == OrganisationKind.STRUCTURE,
        )
        return one_per_key(await self.rows(stmt), keys)


class PlaceByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(places_t).where(places_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class PlacesByStructureLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(places_t)
            .where(places_t.c.organisation_id.in_(keys))
            .order_by(places_t.c.place_type)
        )
        return many_per_key(await self.rows(stmt), keys, "organisation_id")
