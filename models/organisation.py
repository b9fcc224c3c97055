from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from auth.policy import Role
from models.base import Base, text_enum, uuid_pk


class OrganisationKind(StrEnum):
    SIAO = "SIAO"
    STRUCTURE = "STRUCTURE"
    SOCIAL_SERVICE = "SOCIAL_SERVICE"
    ASSOCIATION = "ASSOCIATION"
    ADMINISTRATION = "ADMINISTRATION"


class Territory(Base):
    """A département, by its INSEE code: 75, 93, 2A, 971..."""

    __tablename__ = "territories"
    __table_args__ = (CheckConstraint("code ~ '^(\\d{2}|2A|2B|\\d{3})$'", name="code_format"),)

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(text_enum(OrganisationKind, "organisation_kind"))
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    """A person who uses the service (professional, beneficiary) or a partner system."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    login: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(text_enum(Role, "role"))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    territory_code: Mapped[str | None] = mapped_column(ForeignKey("territories.code"))
    # A beneficiary's account is tied to the person they are.
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", use_alter=True, name="fk_users_person_id_persons")
    )
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
