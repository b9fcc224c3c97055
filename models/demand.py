from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Tracked, text_enum, uuid_pk
from models.structure import PlaceType


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


# What the SIAO work queue shows by default: demands waiting for the SIAO.
WAITING_STATUSES = (DemandStatus.SUBMITTED, DemandStatus.IN_REVIEW, DemandStatus.REFUSED)
_WAITING_SQL = text(
    f"status IN ({', '.join(repr(s.value) for s in WAITING_STATUSES)}) AND submitted_at IS NOT NULL"
)


class Demand(Tracked, Base):
    """A request for shelter. Invariant 3 (non-empty concerned members, all members of the
    household when it was made) is checked by a deferred constraint trigger (migration 0001)."""

    __tablename__ = "demands"
    __table_args__ = (
        Index("ix_demands_household_created", "household_id", "created_at"),
        Index("ix_demands_queue", "status", "priority", "submitted_at"),
        # The work queue's default view, in both of its orders, and its count: read in
        # order and stopped at the page's end instead of sorting every waiting demand.
        Index(
            "ix_demands_waiting_priority",
            "priority",
            "submitted_at",
            "id",
            postgresql_where=_WAITING_SQL,
        ),
        Index("ix_demands_waiting_since", "submitted_at", "id", postgresql_where=_WAITING_SQL),
        Index("ix_demands_waiting_household", "household_id", postgresql_where=_WAITING_SQL),
        CheckConstraint("kind <> 'EMERGENCY' OR night IS NOT NULL", name="emergency_has_night"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("suggested_priority BETWEEN 1 AND 4", name="suggested_priority_range"),
        CheckConstraint(
            "(suggested_priority IS NULL) = (priority_suggested_by IS NULL)",
            name="suggestion_has_author",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[DemandKind] = mapped_column(text_enum(DemandKind, "demand_kind"))
    status: Mapped[DemandStatus] = mapped_column(text_enum(DemandStatus, "demand_status"))
    # 1 = most urgent ... 4 = can wait; orders the SIAO work queue. Set only by the
    # territory's SIAO (at creation, or `setDemandPriority`); anyone else gets the default.
    priority: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    # What the creator who is not the SIAO asked for, and who: a suggestion the SIAO reads,
    # never the rank itself.
    suggested_priority: Mapped[int | None] = mapped_column(SmallInteger)
    priority_suggested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # When it last entered SUBMITTED: the waiting time of the work queue counts from here.
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # EMERGENCY: the night the shelter is for (the 115 operator is `created_by`).
    night: Mapped[date | None] = mapped_column(Date)
    # INSERTION: the recommended kind of accommodation and the commission that examines it.
    recommended_place_type: Mapped[PlaceType | None] = mapped_column(
        text_enum(PlaceType, "recommended_place_type")
    )
    commission_date: Mapped[date | None] = mapped_column(Date)


class DemandPerson(Base):
    __tablename__ = "demand_persons"

    demand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demands.id"), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id"), primary_key=True, index=True
    )
