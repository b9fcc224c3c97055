"""Attachments ("Pièces jointes") of the situation tab: the file's metadata here, its bytes
in a `models.storage.Storage` (a folder under the data directory by default).

An attachment belongs to one section of the household's situation (or of a member's, for
the per-person sections) and so carries that section's category: a viewer who may not read
HEALTH does not learn that a medical certificate was attached.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from auth.policy import SituationSection
from models.base import Base, text_enum, uuid_pk

# What may be attached: scans and photos of documents. Told by the file's first bytes
# (`filetype`), which must agree with the type the client declares.
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
}
FILE_NAME_MAX = 200


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_household_created", "household_id", "created_at", "id"),
        CheckConstraint("size > 0", name="not_empty"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint(
            "content_type IN ('application/pdf', 'image/jpeg', 'image/png')", name="allowed_type"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    # For a person's section (activity, administrative, medico-social): the member.
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"))
    section: Mapped[SituationSection] = mapped_column(
        text_enum(SituationSection, "attachment_section")
    )
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_MAX))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
