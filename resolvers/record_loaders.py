"""Loaders of the household record's tabs: evaluations (pages, counts, the latest of each
kind), notes (filtered pages, counts, concerned persons), the change log (filtered
pages and counts, events by id) and the record's accesses (pages and counts). Same rules
as `resolvers.loaders`: per request, one statement per batch, the row scope inside the
SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    Table,
    Text,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)

from auth.policy import Access, audited_fields
from models import AccessEvent, AuditEvent, Evaluation, EvaluationKind, Note, NotePerson
from models.note import SEARCH_CONFIGS
from resolvers.loader_base import (
    ChildCountLoader,
    ChildList,
    ChildPageLoader,
    ConcernedPersonsLoader,
    ScopedByIdLoader,
    SqlLoader,
    one_per_key,
)
from resolvers.organisation_loaders import users_t
from resolvers.pagination import decode_ranked_cursor, encode_ranked_cursor

evaluations_t: Table = Evaluation.__table__  # type: ignore[assignment]


class _EvaluationList(ChildList):
    """Filter: an `EvaluationKind`, or None for every kind."""

    table = evaluations_t

    def conditions(self, filter: Any) -> list[Any]:
        return [] if filter is None else [self.table.c.kind == EvaluationKind(filter)]


class EvaluationPagesByHouseholdLoader(_EvaluationList, ChildPageLoader):
    time_column = "created_at"


class EvaluationCountByHouseholdLoader(_EvaluationList, ChildCountLoader):
    pass


class EvaluationByIdLoader(ScopedByIdLoader):
    table = evaluations_t


LatestKey = tuple[uuid.UUID, EvaluationKind]


class LatestEvaluationLoader(SqlLoader[LatestKey, Row[Any] | None]):
    """The latest evaluation of a kind for many households, in one statement: each
    (household, kind)'s evaluations numbered newest first, the first kept (what DISTINCT
    ON does, without SQLAlchemy 2.1's `distinct_on`)."""

    async def batch_load_fn(self, keys: list[LatestKey]) -> list[Row[Any] | None]:
        t = evaluations_t
        newest = (
            func.row_number()
            .over(
                partition_by=(t.c.household_id, t.c.kind),
                order_by=(t.c.created_at.desc(), t.c.id.desc()),
            )
            .label("newest")
        )
        inner = (
            select(t, newest)
            .where(
                t.c.household_id.in_({h for h, _ in keys}),
                t.c.kind.in_({k for _, k in keys}),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .subquery()
        )
        stmt = select(inner).where(inner.c.newest == 1)
        found = {(row.household_id, row.kind): row for row in await self.rows(stmt)}
        return [found.get(key) for key in keys]


# --- notes -------------------------------------------------------------------------------

notes_t: Table = Note.__table__  # type: ignore[assignment]
note_persons_t: Table = NotePerson.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class NoteFilter:
    """`Household.notes(filter:)` as a loader key: a concerned member, an author (user),
    words to search (French, websearch syntax), active pins only (true) or none (false)."""

    member: uuid.UUID | None = None
    author: uuid.UUID | None = None
    text: str | None = None
    pinned: bool | None = None


class _NoteList(ChildList):
    """Notes not deleted, narrowed by a `NoteFilter`. "Pinned" means pinned until after
    the request's instant (`Context.now`, a parameter of the SQL): a pin past its date
    counts no more, without anything clearing it."""

    table = notes_t

    def pinned_now(self) -> ColumnElement[bool]:
        now = literal(self.ctx.now, DateTime(timezone=True))
        return func.coalesce(self.table.c.pinned_until > now, false())

    def conditions(self, filter: Any) -> list[Any]:
        t = self.table
        out: list[Any] = [t.c.deleted_at.is_(None)]
        if filter is None:
            return out
        assert isinstance(filter, NoteFilter)
        if filter.member is not None:
            out.append(
                exists().where(
                    note_persons_t.c.note_id == t.c.id,
                    note_persons_t.c.person_id == filter.member,
                )
            )
        if filter.author is not None:
            out.append(t.c.created_by == filter.author)
        if filter.text:
            words = literal(filter.text, Text())
            queries = [
                func.websearch_to_tsquery(literal_column(f"'{c}'::regconfig"), words)
                for c in SEARCH_CONFIGS
            ]
            out.append(t.c.search.bool_op("@@")(queries[0].op("||")(queries[1])))
        if filter.pinned is not None:
            out.append(self.pinned_now() if filter.pinned else not_(self.pinned_now()))
        return out


class NotePagesByHouseholdLoader(_NoteList, ChildPageLoader):
    """Active pins first, then newest first."""

    time_column = "created_at"

    def sort_keys(self) -> list[Any]:
        return [self.pinned_now(), self.table.c.created_at, self.table.c.id]

    def extra_columns(self) -> list[Any]:
        return [self.pinned_now().label("pinned_now")]

    def encode_cursor(self, row: Row[Any]) -> str:
        return encode_ranked_cursor(row.pinned_now, row.created_at, row.id)

    def decode_cursor(self, cursor: str | None) -> tuple[Any, ...] | None:
        return decode_ranked_cursor(cursor)


class NoteCountByHouseholdLoader(_NoteList, ChildCountLoader):
    pass


class NoteByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """A deleted note reads as not found."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        t = notes_t
        stmt = select(t).where(
            t.c.id.in_(keys),
            t.c.deleted_at.is_(None),
            t.c.household_id.in_(self.ctx.scope.household_ids()),
        )
        return one_per_key(await self.rows(stmt), keys)


class ConcernedPersonsByNoteIdLoader(ConcernedPersonsLoader):
    parent = notes_t
    link = note_persons_t
    key = "note_id"


# --- the change log ----------------------------------------------------------------------

audit_t: Table = AuditEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """`Household.auditEvents(filter:)` as a loader key: who (a user), what kind of record,
    which action, from (included) and to (excluded), and words to find."""

    actor: uuid.UUID | None = None
    entity_type: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


def _like(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _AuditList(ChildList):
    """Change-log events narrowed by an `AuditFilter`. `text` is looked for, accents and
    case ignored, in the action, the kind of record, the actor's name, and the before and
    after values of the fields the viewer may read (`audited_fields()`) and of no other:
    otherwise which events match would tell what a masked value contains."""

    table = audit_t

    def readable_fields(self) -> list[tuple[str, str]]:
        viewer = self.ctx.authenticated
        return [
            (entity, name)
            for entity, fields in audited_fields().items()
            for name, category in fields.items()
            if category is None or viewer.may(category, Access.READ)
        ]

    def text_condition(self, words: str) -> ColumnElement[bool]:
        t = self.table
        pattern = func.unaccent(literal(_like(words), Text()))

        def found(expression: Any) -> ColumnElement[bool]:
            matched: ColumnElement[bool] = func.unaccent(expression).ilike(pattern)
            return matched

        in_values = [
            and_(
                t.c.entity_type == entity,
                or_(
                    found(t.c.changes[name]["before"].astext),
                    found(t.c.changes[name]["after"].astext),
                ),
            )
            for entity, name in self.readable_fields()
        ]
        actors = select(users_t.c.id).where(found(users_t.c.display_name))
        return or_(found(t.c.action), found(t.c.entity_type), t.c.actor_id.in_(actors), *in_values)

    def conditions(self, filter: Any) -> list[Any]:
        if filter is None:
            return []
        assert isinstance(filter, AuditFilter)
        t = self.table
        out: list[Any] = []
        if filter.actor is not None:
            out.append(t.c.actor_id == filter.actor)
        if filter.entity_type:
            out.append(t.c.entity_type == filter.entity_type)
        if filter.action:
            out.append(t.c.action == filter.action)
        if filter.since is not None:
            out.append(t.c.at >= filter.since)
        if filter.until is not None:
            out.append(t.c.at < filter.until)
        if filter.text:
            out.append(self.text_condition(filter.text))
        return out


class AuditPagesByHouseholdLoader(_AuditList, ChildPageLoader):
    time_column = "at"


class AuditCountByHouseholdLoader(_AuditList, ChildCountLoader):
    pass


class AuditEventByIdLoader(ScopedByIdLoader):
    table = audit_t


# --- who read the record -----------------------------------------------------------------

access_t: Table = AccessEvent.__table__  # type: ignore[assignment]


class AccessPagesByHouseholdLoader(ChildPageLoader):
    table = access_t
    time_column = "at"


class AccessCountByHouseholdLoader(ChildCountLoader):
    table = access_t
