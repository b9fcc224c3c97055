from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Tracked, text_enum, uuid_pk

NAME_MAX = 100
NAME_KEY_SQL = "siao_name_key(first_name || ' ' || last_name || ' ' || coalesce(usage_name, ''))"
NAME_WORDS_SQL = f"string_to_array({NAME_KEY_SQL}, ' ')"
# The trigram similarity of a known name word to a typed one for the search to try it
# (the `%` operator's threshold, set per connection; resolvers/search.py).
CLOSE_WORD = 0.3


class Sex(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    UNSPECIFIED = "UNSPECIFIED"


class Person(Tracked, Base):
    """A human being. Invariant 1: in exactly one household at any instant (see Membership)."""

    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint("birth_date >= DATE '1900-01-01'", name="birth_date_range"),
        CheckConstraint("length(btrim(first_name)) > 0", name="first_name_not_blank"),
        CheckConstraint("length(btrim(last_name)) > 0", name="last_name_not_blank"),
        Index(
            "ix_persons_name_key_trgm",
            "name_key",
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ),
        Index("ix_persons_birth_date", "birth_date"),
        Index("ix_persons_name_words", "name_words", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    first_name: Mapped[str] = mapped_column(String(NAME_MAX))
    last_name: Mapped[str] = mapped_column(String(NAME_MAX))
    usage_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(text_enum(Sex, "sex"))
    nationality: Mapped[str | None] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(30))
    # Set when this record was merged into another (a duplicate): `node(id)` then answers
    # the survivor, and the record keeps no membership.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"))
    # Search key: every name, lower-case, accent-free, apostrophes dropped, other separators
    # as spaces (`siao_name_key`, migration 0004), indexed for trigram similarity.
    name_key: Mapped[str] = mapped_column(
        Text, Computed(NAME_KEY_SQL, persisted=True), nullable=False
    )
    # The same, as words: the search finds the persons who have, for every word typed, a
    # word close to it (`NameWord` tells which words are close), through a GIN index.
    name_words: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed(NAME_WORDS_SQL, persisted=True), nullable=False
    )


class NameWord(Base):
    """The dictionary of the search, per territory: `(territory, word)` for every word of
    the names of every person whose current household is in that territory and not
    protected, and for no other (migration 0015's triggers add and remove them as persons
    come, go, change names and households become protected). Small enough that finding
    the words close to a typed one, by trigram similarity within the territory, takes a
    millisecond at a million persons.

    Threat stopped: the search's cost telling a name apart from one that exists nowhere
    when its only bearers are in another territory or a protected household the viewer
    does not accompany (their words would be candidates, found by nobody, and the search
    would fall back to the slower full-name similarity). Protected households' words are
    not here: the search reads those of the households the viewer accompanies."""

    __tablename__ = "name_words"
    __table_args__ = (
        Index(
            "ix_name_words_territory_trgm",
            "territory_code",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )

    # (word, territory): the one-slip variants of a typed word are looked up as
    # `word = ANY (variants) AND territory_code = ...`, one index descent per variant.
    word: Mapped[str] = mapped_column(Text, primary_key=True)
    territory_code: Mapped[str] = mapped_column(String(3), primary_key=True)


class PersonMerge(Base):
    """A merge of two person records, with what it changed, so that it can be undone as
    long as nothing was written on top."""

    __tablename__ = "person_merges"

    id: Mapped[uuid.UUID] = uuid_pk()
    kept_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    merged_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
