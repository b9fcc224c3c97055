"""Loaders of what is not personal data of households: professionals (users), their
organisations, territories, structures and their places."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, Table, and_, false, or_, select, union_all

from auth.policy import Category, Role
from auth.visibility import may_see_professionals
from models import Organisation, OrganisationKind, Place, Territory, User
from resolvers.demand_loaders import orientations_t, stays_t
from resolvers.loader_base import ManyLoader, SqlLoader, many_per_key, one_per_key

if TYPE_CHECKING:
    from resolvers.context import Context

users_t: Table = User.__table__
organisations_t: Table = Organisation.__table__
territories_t: Table = Territory.__table__
places_t: Table = Place.__table__


class UserByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Users by id (rule USER of `auth.visibility`). A professional's name, role and
    organisation are not personal data of households: professionals, administrators and
    beneficiaries see them (who did what). A beneficiary's user record IS personal data of
    their household: it is visible exactly when their person is (her anchor household in
    the row scope, IDENTITY_MIN readable).

    Threat stopped: any token reading a beneficiary's name (and that she has an account)
    by id; a partner system or an observer browsing the directory of professionals."""

    shows = "User"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        viewer = self.ctx.authenticated
        u = users_t
        beneficiary = u.c.role == Role.BENEFICIARY
        conditions: list[Any] = []
        if may_see_professionals(viewer):
            conditions.append(~beneficiary)
        if viewer.may(Category.IDENTITY_MIN):
            conditions.append(and_(beneficiary, self.ctx.scope.persons(u.c.person_id)))
        if not conditions:
            return [None for _ in keys]
        stmt = select(u).where(u.c.id.in_(keys), or_(*conditions))
        return one_per_key(await self.rows(stmt), keys)


class OrganisationByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    shows = "Organisation"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(organisations_t).where(organisations_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class TerritoryByCodeLoader(SqlLoader[str, Row[Any] | None]):
    shows = "Territory"

    async def load_batch(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(territories_t).where(territories_t.c.code.in_(keys))
        return one_per_key(await self.rows(stmt), keys, "code")


def _linked_places(ctx: Context) -> Any:
    """The places where a household the viewer sees, and whose demands it may read, is
    oriented or hosted (an orientation's or a stay's place)."""
    scope = ctx.scope.household_ids()
    return union_all(
        select(orientations_t.c.place_id).where(orientations_t.c.household_id.in_(scope)),
        select(stays_t.c.place_id).where(stays_t.c.household_id.in_(scope)),
    )


def visible_places(ctx: Context, places: Any) -> ColumnElement[bool]:
    """Predicate over `places` (rule STRUCTURE of `auth.visibility`): the places of the
    structures of the viewer's territory for those who list structures (`structures`), and
    the places their households' demands lead to for who may read those demands.

    Threat stopped: `node` answering what `structures` refuses (an observer, a partner
    without `demands:read` browsing the structures and their vacancies by id)."""
    viewer = ctx.authenticated
    found: list[ColumnElement[bool]] = []
    if viewer.may_read_structures:
        territory = select(organisations_t.c.id).where(
            organisations_t.c.territory_code == viewer.territory_code
        )
        found.append(places.c.organisation_id.in_(territory))
    if viewer.may(Category.DEMANDS):
        found.append(places.c.id.in_(_linked_places(ctx)))
    return or_(*found) if found else false()


class StructureByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Structures (organisations of kind STRUCTURE) are not personal data; they are seen as
    their places are (`visible_places`)."""

    shows = "Structure"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        o = organisations_t
        stmt = select(o).where(
            o.c.id.in_(keys),
            o.c.kind == OrganisationKind.STRUCTURE,
            o.c.id.in_(
                select(places_t.c.organisation_id).where(visible_places(self.ctx, places_t))
            ),
        )
        return one_per_key(await self.rows(stmt), keys)


class PlaceByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    shows = "Place"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(places_t).where(places_t.c.id.in_(keys), visible_places(self.ctx, places_t))
        return one_per_key(await self.rows(stmt), keys)


class PlacesByStructureLoader(ManyLoader[uuid.UUID]):
    shows = "Place"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(places_t)
            .where(places_t.c.organisation_id.in_(keys), visible_places(self.ctx, places_t))
            .order_by(places_t.c.place_type)
        )
        return many_per_key(await self.rows(stmt), keys, "organisation_id")
