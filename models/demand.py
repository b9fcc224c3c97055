from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Tracked, text_enum, uuid_pk


class DemandKind(StrEnum):
    EMERGENCY = "EMERGENCY"
    INSERTION = "INSERTION"


class DemandStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    IN_REVIEW = "IN_REVIEW"
    ORIENTED = "ORIENTED"
    ACCEPTED = "ACCEPTED"
    IN_STAY = "IN_STAY"
    CLOSED = "CLOSED"
    REFUSED = "REFUSED"
    CANCELLED = "CANCELLED"
    PLACED = "PLACED"
    UNMET = "UNMET"


class Demand(Tracked, Base):
    """A request for shelter. Invariant 3 (non-empty concerned members, all members of the
    household when it was made) is checked by a deferred constraint trigger (migration 0001)."""

    __tablename__ = "demands"
    __table_args__ = (Index("ix_demands_household_created", "household_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[DemandKind] = mapped_column(text_enum(DemandKind, "demand_kind"))
    status: Mapped[DemandStatus] = mapped_column(text_enum(DemandStatus, "demand_status"))


class DemandPerson(Base):
    __tablename__ = "demand_persons"

    demand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demands.id"), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id"), primary_key=True, index=True
    )
