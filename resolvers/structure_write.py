"""A structure's places: the vacancies a demand's lifecycle takes and gives back, the
places of a demand's territory, and a manager's declaration of vacancies.

Places are changed by single guarded UPDATEs (`vacancies > 0`), and the CHECK constraints
of `places` stop any count from going negative: of twenty operators racing for the last
place, one wins and nineteen get NO_VACANCY, with nothing half-written.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Demand, Household, Organisation, Place
from resolvers import audit
from resolvers.context import Context
from resolvers.demand_write import DemandErrorCode
from resolvers.errors import CodedError, ErrorCode
from resolvers.writes import Problem, Refused, write_instant


async def take_vacancy(session: AsyncSession, place_id: uuid.UUID, *, occupy: bool) -> None:
    """One vacancy less (and one place occupied if `occupy`), or NO_VACANCY."""
    values: dict[str, Any] = {
        "vacancies": Place.vacancies - 1,
        "version": Place.version + 1,
        "updated_at": func.now(),
    }
    if occupy:
        values["occupied"] = Place.occupied + 1
    taken = await session.scalar(
        update(Place)
        .where(Place.id == place_id, Place.vacancies > 0)
        .values(**values)
        .returning(Place.id)
    )
    if taken is None:
        raise Refused(
            Problem(DemandErrorCode.NO_VACANCY, "No vacancy left in these places.", ["placeId"])
        )


async def give_back(session: AsyncSession, place_id: uuid.UUID, *, vacate: bool) -> None:
    values: dict[str, Any] = {
        "vacancies": Place.vacancies + 1,
        "version": Place.version + 1,
        "updated_at": func.now(),
    }
    if vacate:
        values["occupied"] = Place.occupied - 1
    await session.execute(update(Place).where(Place.id == place_id).values(**values))


async def place_of_territory(session: AsyncSession, demand: Demand, place_id: uuid.UUID) -> Place:
    """The place, if it belongs to a structure of the demand's territory."""
    place = await session.scalar(
        select(Place)
        .join(Organisation, Organisation.id == Place.organisation_id)
        .join(Household, Household.territory_code == Organisation.territory_code)
        .where(Place.id == place_id, Household.id == demand.household_id)
    )
    if place is None:
        raise Refused(
            Problem(
                DemandErrorCode.WRONG_PLACE,
                "No such place in a structure of the household's territory.",
                ["placeId"],
            )
        )
    return place


async def declare_vacancies(
    ctx: Context, place_id: uuid.UUID, vacancies: int, expected_version: int
) -> tuple[uuid.UUID | None, list[Problem]]:
    """A structure manager declares how many of their places of one type are free."""
    viewer = ctx.authenticated
    if not viewer.may_declare_vacancies:
        raise CodedError(ErrorCode.FORBIDDEN, "Only a structure's manager declares vacancies.")
    try:
        async with ctx.transaction() as session:
            place = await session.scalar(
                select(Place)
                .where(Place.id == place_id, Place.organisation_id == viewer.organisation_id)
                .with_for_update()
            )
            if place is None:
                raise Refused(
                    Problem(
                        DemandErrorCode.NOT_FOUND, "No such place in your structure.", ["placeId"]
                    )
                )
            if place.version != expected_version:
                raise Refused(
                    Problem(
                        DemandErrorCode.STALE_VERSION,
                        f"The places changed since you read them (version "
                        f"{expected_version}, now {place.version}).",
                        ["expectedVersion"],
                        current_version=place.version,
                    )
                )
            if vacancies < 0 or vacancies + place.occupied > place.capacity:
                raise Refused(
                    Problem(
                        DemandErrorCode.INVALID_INPUT,
                        f"Vacancies go from 0 to {place.capacity - place.occupied} "
                        f"(capacity {place.capacity}, occupied {place.occupied}).",
                        ["vacancies"],
                    )
                )
            at = await write_instant(session)
            audit.record(
                session,
                ctx,
                at=at,
                action="DECLARE_VACANCIES",
                entity_type="Place",
                entity_id=place.id,
                household_id=None,
                changes=audit.field_changes(
                    {"vacancies": place.vacancies}, {"vacancies": vacancies}
                ),
            )
            place.vacancies = vacancies
            place.version += 1
            place.updated_at = at
    except Refused as refused:
        return None, refused.problems
    return place_id, []
