from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import TSTZRANGE, Range
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, text_enum, uuid_pk


class OrientationStatus(StrEnum):
    PROPOSED = "PROPOSED"
    ACCEPTED = "ACCEPTED"
    REFUSED = "REFUSED"
    CANCELLED = "CANCELLED"


class RefusalReason(StrEnum):
    NO_SUITABLE_PLACE = "NO_SUITABLE_PLACE"
    PROFILE_NOT_ADMISSIBLE = "PROFILE_NOT_ADMISSIBLE"
    HOUSEHOLD_DECLINED = "HOUSEHOLD_DECLINED"
    INCOMPLETE_FILE = "INCOMPLETE_FILE"
    SAFETY = "SAFETY"
    OTHER = "OTHER"


class ExitReason(StrEnum):
    HOUSING = "HOUSING"
    OTHER_STRUCTURE = "OTHER_STRUCTURE"
    END_OF_NIGHT = "END_OF_NIGHT"
    LEFT = "LEFT"
    EXCLUDED = "EXCLUDED"
    OTHER = "OTHER"


class Orientation(Base):
    """The SIAO's proposal of a household's demand to a structure's places. A PROPOSED
    orientation holds one vacancy of its place until it is decided or cancelled."""

    __tablename__ = "orientations"
    __table_args__ = (
        CheckConstraint(
            "(status = 'REFUSED') = (refusal_reason IS NOT NULL)", name="reason_iff_refused"
        ),
        # A demand has at most one orientation waiting for a decision or accepted.
        Index(
            "uq_orientations_one_open_per_demand",
            "demand_id",
            unique=True,
            postgresql_where=text("status IN ('PROPOSED', 'ACCEPTED')"),
        ),
        Index("ix_orientations_place_status", "place_id", "status"),
        Index("ix_orientations_household", "household_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    demand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demands.id"))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    place_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("places.id"))
    status: Mapped[OrientationStatus] = mapped_column(
        text_enum(OrientationStatus, "orientation_status")
    )
    refusal_reason: Mapped[RefusalReason | None] = mapped_column(
        text_enum(RefusalReason, "refusal_reason")
    )
    comment: Mapped[str | None] = mapped_column(String(2000))
    proposed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    proposed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class Stay(Base):
    """A household hosted in a structure, from admission to exit (a night for the 115)."""

    __tablename__ = "stays"
    __table_args__ = (
        CheckConstraint("NOT isempty(validity) AND NOT lower_inf(validity)", name="bounded_below"),
        CheckConstraint(
            "upper_inf(validity) = (exit_reason IS NULL)", name="exit_reason_iff_ended"
        ),
        Index("ix_stays_household", "household_id"),
        Index("ix_stays_place", "place_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    demand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demands.id"))
    orientation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orientations.id"))
    place_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("places.id"))
    validity: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    exit_reason: Mapped[ExitReason | None] = mapped_column(text_enum(ExitReason, "exit_reason"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
