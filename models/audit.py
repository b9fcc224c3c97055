from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, uuid_pk


class AuditEvent(Base):
    """One change (or sensitive read) of household data, written in the same transaction
    as the change itself (invariant 4). `changes` maps a field to {"before", "after"}."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_household_at", "household_id", "at", "id"),
        Index("ix_audit_events_entity", "entity_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID]
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


class AccessEvent(Base):
    """A read of sensitive data (HEALTH, VIOLENCE, ...): one row per (viewer, household,
    category, request), written in one batch at the end of the request."""

    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_household_at", "household_id", "at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    viewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    viewer_label: Mapped[str] = mapped_column(String(200))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    category: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(64))
