from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, text_enum, uuid_pk


class PlaceType(StrEnum):
    EMERGENCY = "EMERGENCY"
    INSERTION = "INSERTION"
    STABILISATION = "STABILISATION"
    ADAPTED_HOUSING = "ADAPTED_HOUSING"
    HOTEL = "HOTEL"


class Place(Base):
    """The places of one type in a structure (an organisation of kind STRUCTURE).

    `vacancies` are the places the manager declared free and that no pending orientation
    holds; it never goes below zero (CHECK), which is what makes two operators racing for
    the last place end with one proposal and one NO_VACANCY."""

    __tablename__ = "places"
    __table_args__ = (
        UniqueConstraint("organisation_id", "place_type", name="uq_places_structure_type"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("occupied >= 0 AND occupied <= capacity", name="occupied_within_capacity"),
        CheckConstraint("vacancies >= 0", name="vacancies_not_negative"),
        CheckConstraint("vacancies + occupied <= capacity", name="vacancies_within_capacity"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    place_type: Mapped[PlaceType] = mapped_column(text_enum(PlaceType, "place_type"))
    capacity: Mapped[int]
    occupied: Mapped[int] = mapped_column(default=0, server_default="0")
    vacancies: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(default=1, server_default="1")
