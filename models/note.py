from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Tracked, uuid_pk

TITLE_MAX = 200
BODY_MAX = 20_000
# Search: French stemming, twice. `french` stems accented words best ("expulsée" and
# "expulsions" share "expuls"); `french_unaccent` (migration 0006: unaccent, then the
# French stemmer) finds what people type without accents on a phone ("hebergement" for
# "hébergements"). A note's vector holds both; a search asks either (`SEARCH_CONFIGS`).
SEARCH_CONFIGS = ("french", "french_unaccent")
_DOCUMENT = "(title::text || ' ' || body)"


class Note(Tracked, Base):
    """A note between professionals about a household (the single channel of informal
    exchange). Its author (`created_by`) alone edits or deletes it; a deletion is soft
    (`deleted_at`), so the change log keeps what it was. Pinned until `pinned_until`: an
    expired pin simply stops counting, no job clears it."""

    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_household_created", "household_id", "created_at", "id"),
        Index("ix_notes_search", "search", postgresql_using="gin"),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
        CheckConstraint("length(btrim(body)) > 0", name="body_not_blank"),
        CheckConstraint(f"length(body) <= {BODY_MAX}", name="body_length"),
        CheckConstraint(
            "(pinned_until IS NULL) = (pinned_at IS NULL)", name="pinned_until_iff_pinned_at"
        ),
        CheckConstraint(
            "(deleted_at IS NULL) = (deleted_by IS NULL)", name="deleted_at_iff_deleted_by"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            " || ".join(f"to_tsvector('{c}'::regconfig, {_DOCUMENT})" for c in SEARCH_CONFIGS),
            persisted=True,
        ),
    )
    pinned_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pinned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class NotePerson(Base):
    """The members a note concerns (possibly none: a note about the whole household)."""

    __tablename__ = "note_persons"

    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notes.id"), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id"), primary_key=True, index=True
    )
