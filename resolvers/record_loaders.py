"""Loaders of the household record's tabs: evaluations (pages, counts, the latest of each
kind), notes (filtered pages, counts, concerned persons), the change log (filtered
pages and counts, events by id) and the record's accesses (pages and counts). Same rules
as `resolvers.loaders`: per request, one statement per batch, the row scope inside the
SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    Table,
    Text,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from auth.policy import (
    AUDITED_HOUSEHOLD_LINKS,
    AUDITED_PARTS,
    LOGGED_READS,
    Access,
    Category,
    audited_entity_categories,
    audited_fields,
)
from auth.viewer import Viewer
from auth.visibility import may_load
from models import (
    AccessEvent,
    AuditEvent,
    Evaluation,
    EvaluationKind,
    Note,
    NotePerson,
)
from models.note import SEARCH_CONFIGS
from resolvers.household_loaders import households_t
from resolvers.loader_base import (
    ChildCountLoader,
    ChildList,
    ChildPageLoader,
    ConcernedPersonsLoader,
    CountKey,
    Page,
    PageKey,
    ScopedByIdLoader,
    SqlLoader,
    one_per_key,
)
from resolvers.organisation_loaders import users_t
from resolvers.pagination import decode_ranked_cursor, encode_ranked_cursor

if TYPE_CHECKING:
    from resolvers.context import Context

evaluations_t: Table = Evaluation.__table__


class _EvaluationList(ChildList):
    """Filter: an `EvaluationKind`, or None for every kind."""

    shows = "Evaluation"

    table = evaluations_t

    def conditions(self, filter: Any) -> list[Any]:
        return [] if filter is None else [self.table.c.kind == EvaluationKind(filter)]


class EvaluationPagesByHouseholdLoader(_EvaluationList, ChildPageLoader):
    time_column = "created_at"


class EvaluationCountByHouseholdLoader(_EvaluationList, ChildCountLoader):
    pass


class EvaluationByIdLoader(ScopedByIdLoader):
    shows = "Evaluation"
    table = evaluations_t


LatestKey = tuple[uuid.UUID, EvaluationKind]


class LatestEvaluationLoader(SqlLoader[LatestKey, Row[Any] | None]):
    shows = "Evaluation"

    """The latest evaluation of a kind for many households, in one statement: each
    (household, kind)'s evaluations numbered newest first, the first kept (what DISTINCT
    ON does, without SQLAlchemy 2.1's `distinct_on`)."""

    async def load_batch(self, keys: list[LatestKey]) -> list[Row[Any] | None]:
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

notes_t: Table = Note.__table__
note_persons_t: Table = NotePerson.__table__


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

    shows = "Note"
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

    shows = "Note"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
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

audit_t: Table = AuditEvent.__table__


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


@dataclass(frozen=True, slots=True)
class Readable:
    """A recorded field the viewer may read (`_AuditList.readable_fields`): its entity type
    and name, its category (None: not personal), and the parts of its value to leave out
    (`auth.policy.AUDITED_PARTS`: criteria or sections of categories the viewer may not
    read)."""

    entity_type: str
    name: str
    category: Category | None
    hidden_parts: tuple[str, ...] = ()


def readable_fields(viewer: Viewer) -> list[Readable]:
    """The recorded fields whose values this viewer may read (and so search), without the
    fields naming another household (`AUDITED_HOUSEHOLD_LINKS`: a search on their values
    would spell out, character by character, the id of a household the viewer may not
    see)."""
    out: list[Readable] = []
    for entity, fields in audited_fields().items():
        links = AUDITED_HOUSEHOLD_LINKS.get(entity, ())
        for name, category in fields.items():
            if name in links or (category is not None and not viewer.may(category, Access.READ)):
                continue
            parts = AUDITED_PARTS.get((entity, name), {})
            hidden = tuple(p for p, c in parts.items() if not viewer.may(c, Access.READ))
            out.append(Readable(entity, name, category, hidden))
    return out


def hidden_entity_types(viewer: Viewer) -> list[str]:
    """The entity types whose events this viewer does not list: those whose existence has
    a category it may not read (`auth.policy.audited_entity_categories`)."""
    return sorted(
        entity
        for entity, category in audited_entity_categories().items()
        if not viewer.may(category, Access.READ)
    )


# The change log's kinds of record whose own type has a rule (`auth.visibility`): a viewer
# that may not see that type is not shown when one changed either (`LastActivityLoader`).
ENTITY_NODE_TYPES = (
    "Person",
    "Membership",
    "Demand",
    "Orientation",
    "Stay",
    "Evaluation",
    "Note",
)


def unseen_entity_types(viewer: Viewer) -> list[str]:
    """The kinds of record whose changes this viewer is not shown: those it does not list
    in the log (`hidden_entity_types`) and those whose type it may not see at all (a
    partner without `demands:read` and demands)."""
    return sorted(
        {*hidden_entity_types(viewer), *(t for t in ENTITY_NODE_TYPES if not may_load(viewer, t))}
    )


def linked_households(ctx: Context) -> Any:
    """A column of the change log's rows: the households named by an event's fields
    (`AUDITED_HOUSEHOLD_LINKS`, a move's origin or destination) that this viewer may see,
    by the household's own rule (what `HouseholdByIdLoader` applies: `may_load`, then the
    row scope), computed in the same statement as the rows (no statement more, whatever
    the page holds); `resolvers.audit.visible_changes` shows a link only to a household
    listed here.

    Threat stopped: the household a member left reading, in its MOVE_OUT entry, the id of
    the (protected) household she went to."""
    t = audit_t
    links = [(entity, name) for entity, names in AUDITED_HOUSEHOLD_LINKS.items() for name in names]
    if not links or not may_load(ctx.authenticated, "Household"):
        return null().label("linked_households")
    h = households_t.alias("linked")
    named = [
        t.c.changes[name][side].astext.cast(PG_UUID(as_uuid=True))
        for _, name in links
        for side in ("before", "after")
    ]
    found = (
        select(func.array_agg(h.c.id))
        .where(h.c.id.in_(named), ctx.scope.households(h))
        .scalar_subquery()
    )
    return case((t.c.entity_type.in_(sorted({e for e, _ in links})), found), else_=null()).label(
        "linked_households"
    )


def names_hidden_household(ctx: Context, t: Any = audit_t) -> ColumnElement[bool]:
    """Predicate over the change log's rows (`t`): the event names a household (a move's
    origin or destination) that this viewer may not see."""
    links = [(entity, name) for entity, names in AUDITED_HOUSEHOLD_LINKS.items() for name in names]
    if not links:
        return false()
    named = [
        t.c.changes[name][side].astext.cast(PG_UUID(as_uuid=True))
        for _, name in links
        for side in ("before", "after")
    ]
    if may_load(ctx.authenticated, "Household"):
        unseen = [and_(n.is_not(None), not_(ctx.scope.contains(n))) for n in named]
    else:
        unseen = [n.is_not(None) for n in named]
    return and_(t.c.entity_type.in_(sorted({e for e, _ in links})), or_(*unseen))


def actor_hidden(ctx: Context) -> ColumnElement[bool]:
    """Predicate over the change log's rows: the event was written by the same request, in
    the same household, as an event naming a household the viewer may not see (itself, or
    the CLOSE of the household a move emptied). Such an event does not say who did it
    (`AuditEvent.actor`), and its actor is not matched by the `actor` and `text` filters:
    the one who moved her sees where she went, so naming them would point there."""
    t = audit_t
    same = audit_t.alias("same_request")
    found: ColumnElement[bool] = or_(
        names_hidden_household(ctx, t),
        exists().where(
            same.c.household_id == t.c.household_id,
            same.c.request_id == t.c.request_id,
            same.c.id != t.c.id,
            names_hidden_household(ctx, same),
        ),
    )
    return found


class _AuditList(ChildList):
    """Change-log events narrowed by an `AuditFilter`, without the events this viewer does
    not list (`hidden_entity_types`: in the SQL, so pages and `totalCount` agree). `text`
    is looked for, accents and case ignored, in the action, the kind of record, the
    actor's name, and the before and after values of the fields the viewer may read
    (`readable_fields`, their unreadable parts left out) and of no other: otherwise which
    events match would tell what a masked value contains. Looking into values is reading
    them: a text filter writes the access event of every logged category it looked into
    (`note_text_reads`), as reading those values would."""

    shows = "AuditEvent"
    table = audit_t

    def readable_fields(self) -> list[Readable]:
        return readable_fields(self.ctx.authenticated)

    def text_condition(self, words: str) -> ColumnElement[bool]:
        t = self.table
        pattern = func.unaccent(literal(_like(words), Text()))

        def found(expression: Any) -> ColumnElement[bool]:
            matched: ColumnElement[bool] = func.unaccent(expression).ilike(pattern)
            return matched

        def value(field: Readable, side: str) -> Any:
            if not field.hidden_parts:
                return t.c.changes[field.name][side].astext
            # jsonb - text[]: the value without those array elements or object keys (a
            # null or a scalar has no parts, and the operator refuses it)
            whole = t.c.changes[field.name][side]
            kept = whole.op("-")(literal(list(field.hidden_parts), ARRAY(Text())))
            composite = func.jsonb_typeof(whole).in_(("array", "object"))
            return case((composite, kept.cast(Text())), else_=whole.astext)

        in_values = [
            and_(
                t.c.entity_type == field.entity_type,
                or_(found(value(field, "before")), found(value(field, "after"))),
            )
            for field in self.readable_fields()
        ]
        actors = select(users_t.c.id).where(found(users_t.c.display_name))
        by_actor = and_(t.c.actor_id.in_(actors), not_(actor_hidden(self.ctx)))
        return or_(found(t.c.action), found(t.c.entity_type), by_actor, *in_values)

    def note_text_reads(self, keys: Sequence[PageKey | CountKey]) -> None:
        """The access events of a text filter: for each household whose log it searched,
        each logged category (`LOGGED_READS`) of the values it looked into."""
        searched = {
            k.parent_id for k in keys if isinstance(k.filter, AuditFilter) and k.filter.text
        }
        if not searched:
            return
        categories: set[Category] = set()
        for field in self.readable_fields():
            if field.category is not None:
                categories.add(field.category)
            parts = AUDITED_PARTS.get((field.entity_type, field.name), {})
            categories |= {c for p, c in parts.items() if p not in field.hidden_parts}
        for household_id in sorted(searched):
            for category in sorted(categories & LOGGED_READS):
                self.ctx.note_access(household_id, category)

    def extra_columns(self) -> list[Any]:
        return [linked_households(self.ctx), actor_hidden(self.ctx).label("actor_hidden")]

    def conditions(self, filter: Any) -> list[Any]:
        t = self.table
        out: list[Any] = []
        hidden = hidden_entity_types(self.ctx.authenticated)
        if hidden:
            out.append(t.c.entity_type.not_in(hidden))
        if filter is None:
            return out
        assert isinstance(filter, AuditFilter)
        if filter.actor is not None:
            out.append(t.c.actor_id == filter.actor)
            out.append(not_(actor_hidden(self.ctx)))
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

    async def load_batch(self, keys: list[PageKey]) -> list[Page]:
        self.note_text_reads(keys)
        return await super().load_batch(keys)


class AuditCountByHouseholdLoader(_AuditList, ChildCountLoader):
    async def load_batch(self, keys: list[CountKey]) -> list[int]:
        self.note_text_reads(keys)
        return await super().load_batch(keys)


class AuditEventByIdLoader(ScopedByIdLoader):
    shows = "AuditEvent"
    table = audit_t

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        """Like the list: no event the viewer does not list, and the linked households."""
        t = self.table
        stmt = select(
            t, linked_households(self.ctx), actor_hidden(self.ctx).label("actor_hidden")
        ).where(t.c.id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids()))
        hidden = hidden_entity_types(self.ctx.authenticated)
        if hidden:
            stmt = stmt.where(t.c.entity_type.not_in(hidden))
        return one_per_key(await self.rows(stmt), keys)


class LastActivityLoader(SqlLoader[uuid.UUID, datetime | None]):
    """When each household's record last changed in a way the viewer may see: the latest
    change-log event of a kind of record the viewer is shown (`unseen_entity_types`), in
    one statement per batch. Only asked for viewers with unseen kinds
    (`resolvers.household.last_activity`); others read the household's own column.

    Threat stopped: `lastActivityAt` moving to the instant of a save nobody shows this
    viewer (a HEALTH section for the SIAO, a note for the household): a timestamp that
    moves with no visible event says what was saved, and when."""

    shows = "Household"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[datetime | None]:
        t = audit_t
        stmt = (
            select(t.c.household_id, func.max(t.c.at).label("at"))
            .where(
                t.c.household_id.in_(keys),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
                t.c.entity_type.not_in(unseen_entity_types(self.ctx.authenticated)),
            )
            .group_by(t.c.household_id)
        )
        found = {row.household_id: row.at for row in await self.rows(stmt)}
        return [found.get(key) for key in keys]


# --- who read the record -----------------------------------------------------------------

access_t: Table = AccessEvent.__table__


class AccessPagesByHouseholdLoader(ChildPageLoader):
    shows = "AccessEvent"
    table = access_t
    time_column = "at"


class AccessCountByHouseholdLoader(ChildCountLoader):
    shows = "AccessEvent"
    table = access_t
