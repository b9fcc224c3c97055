"""Demo places, orientations and stays, derived from the demo demands (run by
`models.demo.load_demo` in the same transaction, after the households and demands).

The CHRS Les Tilleuls and the CHU Les Glycines (75) and the Résidence sociale Les Acacias
(93) get places by type; each demo demand that is ORIENTED, ACCEPTED or IN_STAY gets the
orientation (and stay) that its status implies, to a structure of its territory, so that
`manager.chrs@demo.siao` has households to decide on. Deterministic like the rest.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncConnection

from models.demand import Demand, DemandKind, DemandStatus
from models.household import Household
from models.organisation import User
from models.orientation import Orientation, OrientationStatus, Stay
from models.structure import Place, PlaceType

NAMESPACE = uuid.UUID("0c6f2b47-8a3e-4d0e-9a55-0d3f6a1c9b75")

# structure key -> {place type: (capacity, base occupied, declared vacancies)}
PLACES: dict[str, dict[PlaceType, tuple[int, int, int]]] = {
    "chrs": {PlaceType.INSERTION: (40, 30, 2), PlaceType.STABILISATION: (12, 9, 1)},
    "chu": {PlaceType.EMERGENCY: (60, 50, 3), PlaceType.HOTEL: (20, 18, 1)},
    "acacias": {PlaceType.INSERTION: (25, 20, 1), PlaceType.EMERGENCY: (15, 12, 1)},
}
# Where each kind of demand of a territory is oriented.
TARGET: dict[tuple[str, DemandKind], tuple[str, PlaceType]] = {
    ("75", DemandKind.INSERTION): ("chrs", PlaceType.INSERTION),
    ("75", DemandKind.EMERGENCY): ("chu", PlaceType.EMERGENCY),
    ("93", DemandKind.INSERTION): ("acacias", PlaceType.INSERTION),
    ("93", DemandKind.EMERGENCY): ("acacias", PlaceType.EMERGENCY),
}


def _id(kind: str, key: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


async def load_structures(
    conn: AsyncConnection, organisation_id: Any, demand_ids: Collection[uuid.UUID]
) -> str:
    """`organisation_id(key)` gives a demo organisation's id; `demand_ids` are the demo's
    demands (others, such as `siao bench seed`'s, may be in the database already)."""
    place_ids = {
        (org, place_type): _id("place", f"{org}:{place_type.value}")
        for org, types in PLACES.items()
        for place_type in types
    }
    demands = (
        await conn.execute(
            select(
                Demand.id,
                Demand.household_id,
                Demand.kind,
                Demand.status,
                Demand.created_at,
                Household.territory_code,
            )
            .join(Household, Household.id == Demand.household_id)
            .where(
                Demand.id.in_(demand_ids),
                Demand.status.in_(
                    (DemandStatus.ORIENTED, DemandStatus.ACCEPTED, DemandStatus.IN_STAY)
                ),
            )
            .order_by(Demand.id)
        )
    ).all()
    managers = dict((await conn.execute(select(User.organisation_id, User.id))).all())
    orientations: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    hosted: Counter[uuid.UUID] = Counter()
    for d in demands:
        org, place_type = TARGET[(d.territory_code, d.kind)]
        place_id = place_ids[(org, place_type)]
        proposed_at = d.created_at + timedelta(days=2)
        decided = d.status is not DemandStatus.ORIENTED
        orientation_id = _id("orientation", d.id)
        orientations.append(
            {
                "id": orientation_id,
                "demand_id": d.id,
                "household_id": d.household_id,
                "place_id": place_id,
                "status": OrientationStatus.ACCEPTED if decided else OrientationStatus.PROPOSED,
                "refusal_reason": None,
                "comment": None,
                "proposed_at": proposed_at,
                "proposed_by": None,
                "decided_at": proposed_at + timedelta(days=1) if decided else None,
                "decided_by": managers.get(organisation_id(org)) if decided else None,
                "version": 1,
            }
        )
        if d.status is DemandStatus.IN_STAY:
            stays.append(
                {
                    "id": _id("stay", d.id),
                    "household_id": d.household_id,
                    "demand_id": d.id,
                    "orientation_id": orientation_id,
                    "place_id": place_id,
                    "validity": Range(proposed_at + timedelta(days=3), None, bounds="[)"),
                    "exit_reason": None,
                    "created_by": None,
                }
            )
            hosted[place_id] += 1
    pending = Counter(
        o["place_id"] for o in orientations if o["status"] is OrientationStatus.PROPOSED
    )
    places = []
    for (org, place_type), place_id in place_ids.items():
        capacity, occupied, vacancies = PLACES[org][place_type]
        occupied += hosted[place_id]
        # Pending orientations hold places too: keep the capacity large enough for them.
        capacity = max(capacity, occupied + vacancies + pending[place_id])
        places.append(
            {
                "id": place_id,
                "organisation_id": organisation_id(org),
                "place_type": place_type,
                "capacity": capacity,
                "occupied": occupied,
                "vacancies": vacancies,
                "version": 1,
            }
        )
    await conn.execute(insert(Place), places)
    if orientations:
        await conn.execute(insert(Orientation), orientations)
    if stays:
        await conn.execute(insert(Stay), stays)
    return f"{len(places)} places, {len(orientations)} orientations, {len(stays)} stays"
