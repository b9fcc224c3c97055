"""Structures and their places: what is free, where, tonight."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, exists, select

from models import Organisation, OrganisationKind, Place, PlaceType
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode


async def structures(
    ctx: Context,
    territory: str | None,
    place_type: PlaceType | None,
    has_vacancy: bool | None,
) -> list[Row[Any]]:
    """Structures of the viewer's territory, optionally only those with places of a type
    (and with a vacancy in them)."""
    viewer = ctx.authenticated
    if not viewer.may_read_structures:
        raise CodedError(ErrorCode.FORBIDDEN, "You may not list structures.")
    if territory is not None and territory != viewer.territory_code:
        return []
    conditions: list[Any] = [
        Organisation.kind == OrganisationKind.STRUCTURE,
        Organisation.territory_code == viewer.territory_code,
    ]
    place_conditions: list[Any] = [Place.organisation_id == Organisation.id]
    if place_type is not None:
        place_conditions.append(Place.place_type == place_type)
    if has_vacancy is not None:
        place_conditions.append(Place.vacancies > 0 if has_vacancy else Place.vacancies == 0)
    if len(place_conditions) > 1:
        conditions.append(exists().where(*place_conditions))
    stmt = select(Organisation.__table__).where(*conditions).order_by(Organisation.name)
    return list((await ctx.execute(stmt)).all())
