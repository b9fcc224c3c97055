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


class AccompanimentRole(StrEnum):
    """What an accompanying organisation is to the household."""

    PATH_REFERENT = "PATH_REFERENT"  # référent de parcours
    HOSTING_STRUCTURE = "HOSTING_STRUCTURE"  # structure d'hébergement
    PARTNER_SERVICE = "PARTNER_SERVICE"  # service partenaire


class AccompanimentEndReason(StrEnum):
    """Why an accompaniment ended."""

    FOLLOW_UP_COMPLETED = "FOLLOW_UP_COMPLETED"
    TRANSFERRED = "TRANSFERRED"
    HOUSEHOLD_LEFT = "HOUSEHOLD_LEFT"
    ENTERED_IN_ERROR = "ENTERED_IN_ERROR"
    OTHER = "OTHER"


# The longest comment an end of accompaniment takes.
END_COMMENT_MAX = 2000


class Accompaniment(Base):
    """An organisation (and optionally a named referent, a user) following a household over
    a period: a dated fact, never overwritten (ended, not deleted).

    Invariant: one organisation never accompanies the same household twice at once (the
    exclusion constraint, so that two concurrent starts leave exactly one). Who started it
    and who ended it, why and with what comment, are kept on the row and in the change
    log."""

    __tablename__ = "accompaniments"
    __table_args__ = (
        CheckConstraint(
            "user_id IS NOT NULL OR organisation_id IS NOT NULL", name="someone_accompanies"
        ),
        CheckConstraint("NOT isempty(validity)", name="validity_not_empty"),
        ExcludeConstraint(
            ("household_id", "="),
            ("organisation_id", "="),
            ("validity", "&&"),
            name="accompaniment_no_overlap",
            using="gist",
        ),
        CheckConstraint(
            "end_reason IS NULL OR NOT upper_inf(validity)", name="end_reason_when_ended"
        ),
        CheckConstraint(
            "end_comment IS NULL OR end_reason IS NOT NULL", name="end_comment_with_reason"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    validity: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    role: Mapped[AccompanimentRole] = mapped_column(
        text_enum(AccompanimentRole, "accompaniment_role"),
        default=AccompanimentRole.PATH_REFERENT,
        server_default=AccompanimentRole.PATH_REFERENT.value,
    )
    started_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    ended_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    end_reason: Mapped[AccompanimentEndReason | None] = mapped_column(
        text_enum(AccompanimentEndReason, "accompaniment_end_reason")
    )
    end_comment: Mapped[str | None] = mapped_column(String(END_COMMENT_MAX))
