from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Tracked, text_enum, uuid_pk


class Relationship(StrEnum):
    """A member's relationship to the household's reference person."""

    REFERENCE_PERSON = "REFERENCE_PERSON"
    SPOUSE = "SPOUSE"
    CHILD = "CHILD"
    PARENT = "PARENT"
    SIBLING = "SIBLING"
    OTHER_RELATIVE = "OTHER_RELATIVE"
    OTHER = "OTHER"


class Household(Tracked, Base):
    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint("reference ~ '^[0-9]{10}$'", name="reference_format"),
        # A territory's households by id from the index alone: the SIAO's row scope is a
        # semi-join on it (the work queue's count merges it with the waiting demands).
        Index("ix_households_territory_id", "territory_code", "id"),
        # The protected households of a territory (~1% of them), for the search to read
        # the words of those the viewer accompanies without visiting every household of
        # the territory (migration 0015).
        Index(
            "ix_households_protected",
            "territory_code",
            "id",
            postgresql_where=text("protected"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    reference: Mapped[str] = mapped_column(
        String(10),
        unique=True,
        server_default=text("lpad(nextval('household_reference_seq')::text, 10, '0')"),
    )
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"))
    last_activity_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Victims of violence: absent from searches by anyone who does not accompany the
    # household, and from partner feeds.
    protected: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Set when the last member leaves: a household has at least one member while active.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A person's time-bounded place in a household (history is kept, never overwritten).

    Invariant 1 is the exclusion constraint: two memberships of one person never
    overlap in time, so a person is in at most one household at any instant.
    """

    __tablename__ = "memberships"
    __table_args__ = (
        ExcludeConstraint(
            ("person_id", "="), ("validity", "&&"), name="membership_no_overlap", using="gist"
        ),
        CheckConstraint(
            "NOT isempty(validity) AND lower_inc(validity) AND NOT lower_inf(validity)",
            name="validity_bounded_below",
        ),
        Index(
            "ix_memberships_household_validity", "household_id", "validity", postgresql_using="gist"
        ),
        Index("ix_memberships_person_id", "person_id"),
        # A person's current household, without visiting the GiST exclusion index (the
        # search joins every name candidate to it).
        Index(
            "ix_memberships_open_person",
            "person_id",
            postgresql_include=["household_id"],
            postgresql_where=text("upper_inf(validity)"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    relationship: Mapped[Relationship] = mapped_column(text_enum(Relationship, "relationship"))
    validity: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # The person's identity when the membership closed (written by a trigger, migration
    # 0014): what viewers of this household may still see of her once she left.
    identity_at_end: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Accompaniment(Base):
    """A professional or an organisation following a household (référent de parcours)."""

    __tablename__ = "accompaniments"
    __table_args__ = (
        CheckConstraint(
            "user_id IS NOT NULL OR organisation_id IS NOT NULL", name="someone_accompanies"
        ),
        CheckConstraint("NOT isempty(validity)", name="validity_not_empty"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    validity: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
