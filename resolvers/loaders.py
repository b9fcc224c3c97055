"""Per-request dataloaders: one SQL statement per (loader, batch), filtered by the row scope
inside the SQL. Created fresh for every request on the Context (never module-level: a
shared cache would serve one viewer's rows to another).

`now_or_later(loader, key)` returns an already-loaded value synchronously and a future
otherwise, so field resolvers stay synchronous whenever a level was prefetched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Row, Select, Table, exists, func, literal, select, tuple_

from models import (
    AccessEvent,
    AuditEvent,
    Demand,
    DemandPerson,
    Household,
    Membership,
    Organisation,
    OrganisationKind,
    Orientation,
    Person,
    Place,
    Stay,
    Territory,
    User,
)
from models.lifecycle import OPEN_STATUSES
from resolvers.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from resolvers.attachment import AttachmentByIdLoader, AttachmentsByHouseholdLoader
    from resolvers.context import Context
    from resolvers.duplicates import DuplicatesByPersonLoader
    from resolvers.situation import SectionsByHouseholdLoader, SectionsByPersonLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

households_t: Table = Household.__table__  # type: ignore[assignment]
persons_t: Table = Person.__table__  # type: ignore[assignment]
memberships_t: Table = Membership.__table__  # type: ignore[assignment]
demands_t: Table = Demand.__table__  # type: ignore[assignment]
demand_persons_t: Table = DemandPerson.__table__  # type: ignore[assignment]
audit_t: Table = AuditEvent.__table__  # type: ignore[assignment]
access_t: Table = AccessEvent.__table__  # type: ignore[assignment]
users_t: Table = User.__table__  # type: ignore[assignment]
organisations_t: Table = Organisation.__table__  # type: ignore[assignment]
territories_t: Table = Territory.__table__  # type: ignore[assignment]


def now_or_later(loader: DataLoader[Any, Any], key: Any) -> Any:
    """The loaded value if this key's future is already resolved, else the future."""
    future = loader._cache.get(key)
    if (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    ):
        return future.result()
    return loader.load(key)


def then(value: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply `fn` now if `value` is already there, or once it is (keeps resolvers sync
    whenever a dataloader already holds the answer)."""
    if isawaitable(value):

        async def later() -> Any:
            result = fn(await value)
            return await result if isawaitable(result) else result

        return later()
    return fn(value)


class SqlLoader(DataLoader[K, V]):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    async def rows(self, statement: Select[Any]) -> Sequence[Row[Any]]:
        return (await self.ctx.execute(statement)).all()

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        raise NotImplementedError


def one_per_key(rows: Iterable[Row[Any]], keys: Sequence[Any], attr: str = "id") -> list[Any]:
    found = {getattr(row, attr): row for row in rows}
    return [found.get(key) for key in keys]


def many_per_key(rows: Iterable[Row[Any]], keys: Sequence[Any], attr: str) -> list[list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, attr)].append(row)
    return [grouped.get(key, []) for key in keys]


class HouseholdByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.id.in_(keys), self.ctx.scope.households(households_t)
        )
        return one_per_key(await self.rows(stmt), keys)


class HouseholdByReferenceLoader(SqlLoader[str, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.reference.in_(keys), self.ctx.scope.households(households_t)
        )
        rows = await self.rows(stmt)
        for row in rows:
            self.ctx.loaders.household_by_id.prime(row.id, row)
        return one_per_key(rows, keys, "reference")


class PersonByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """A person is visible when one of their memberships (past or present) is in a visible
    household. The id of a record merged into another answers the survivor."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        asked = persons_t.alias("asked")
        visible = exists().where(
            memberships_t.c.person_id == persons_t.c.id,
            memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
        )
        stmt = (
            select(persons_t, asked.c.id.label("asked_id"))
            .select_from(asked)
            .join(persons_t, persons_t.c.id == func.coalesce(asked.c.merged_into_id, asked.c.id))
            .where(asked.c.id.in_(keys), visible)
        )
        return one_per_key(await self.rows(stmt), keys, "asked_id")


class MembershipsByHouseholdIdLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    """Every membership of each household, history included, oldest first."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.household_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class MembershipsByPersonIdLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    """A person's memberships in visible households, oldest first."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.person_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "person_id")


class ScopedByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Rows of a household-owned table by id, within the row scope."""

    table: Table

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        t = self.table
        stmt = select(t).where(
            t.c.id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids())
        )
        return one_per_key(await self.rows(stmt), keys)


class ConcernedPersonsLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    """The persons a household-owned record (demand, note) concerns, through its link
    table (`parent` rows, `link` with `<key>` and `person_id`), within the row scope."""

    parent: Table
    link: Table
    key: str

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        parent, link = self.parent, self.link
        stmt = (
            select(persons_t, link.c[self.key])
            .join(link, link.c.person_id == persons_t.c.id)
            .join(parent, parent.c.id == link.c[self.key])
            .where(
                link.c[self.key].in_(keys),
                parent.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(persons_t.c.last_name, persons_t.c.first_name, persons_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, self.key)


class DemandByIdLoader(ScopedByIdLoader):
    table = demands_t


class ConcernedPersonsByDemandIdLoader(ConcernedPersonsLoader):
    parent = demands_t
    link = demand_persons_t
    key = "demand_id"


@dataclass(frozen=True, slots=True)
class PageKey:
    """A page of a parent's children: `first` items after the keyset cursor `after` (the
    sort values of the last item seen), narrowed by `filter` (a hashable value that the
    loader turns into SQL conditions; None: no filter)."""

    parent_id: uuid.UUID
    first: int
    after: tuple[Any, ...] | None
    filter: Hashable = None


@dataclass(frozen=True, slots=True)
class CountKey:
    """The size of a parent's (filtered) list of children."""

    parent_id: uuid.UUID
    filter: Hashable = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row[Any]]
    has_next: bool


class ChildList:
    """What a page loader and its count loader share: the table and what a filter means.
    `conditions` also excludes rows that are never listed (soft-deleted ones)."""

    table: Table
    ctx: Context

    def conditions(self, filter: Any) -> list[Any]:
        return []


class ChildPageLoader(ChildList, SqlLoader[PageKey, Page]):
    """Newest-first pages of a household's children (demands, audit events...) for many
    households in one statement per distinct (first, after, filter): a window function
    numbers each household's rows, keyset pagination on the sort keys (time, id)."""

    time_column: str

    def sort_keys(self) -> list[Any]:
        """The ordering, every key descending; a cursor holds their values."""
        return [self.table.c[self.time_column], self.table.c.id]

    def extra_columns(self) -> list[Any]:
        """Computed columns the rows carry (labelled), e.g. what a cursor needs."""
        return []

    def encode_cursor(self, row: Row[Any]) -> str:
        return encode_cursor(getattr(row, self.time_column), row.id)

    def decode_cursor(self, cursor: str | None) -> tuple[Any, ...] | None:
        return decode_cursor(cursor)

    async def batch_load_fn(self, keys: list[PageKey]) -> list[Page]:
        by_args: dict[tuple[int, Any, Any], list[PageKey]] = defaultdict(list)
        for key in keys:
            by_args[(key.first, key.after, key.filter)].append(key)
        pages: dict[PageKey, Page] = {}
        for (first, after, filter), group in by_args.items():
            t = self.table
            sort = self.sort_keys()
            conditions: list[Any] = [
                t.c.household_id.in_([k.parent_id for k in group]),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
                *self.conditions(filter),
            ]
            if after is not None:
                bound = (literal(v, type_=k.type) for k, v in zip(sort, after, strict=True))
                conditions.append(tuple_(*sort) < tuple_(*bound))
            rank = (
                func.row_number()
                .over(partition_by=t.c.household_id, order_by=[k.desc() for k in sort])
                .label("rank")
            )
            inner = select(t, *self.extra_columns(), rank).where(*conditions).subquery()
            stmt = (
                select(inner)
                .where(inner.c.rank <= first + 1)
                .order_by(inner.c.household_id, inner.c.rank)
            )
            grouped = many_per_key(
                await self.rows(stmt), [k.parent_id for k in group], "household_id"
            )
            for key, rows in zip(group, grouped, strict=True):
                pages[key] = Page(rows=rows[:first], has_next=len(rows) > first)
        return [pages[key] for key in keys]


class ChildCountLoader(ChildList, SqlLoader[CountKey, int]):
    """Sizes of many households' lists in one statement per distinct filter."""

    async def batch_load_fn(self, keys: list[CountKey]) -> list[int]:
        by_filter: dict[Any, list[CountKey]] = defaultdict(list)
        for key in keys:
            by_filter[key.filter].append(key)
        counts: dict[CountKey, int] = {}
        for filter, group in by_filter.items():
            t = self.table
            stmt = (
                select(t.c.household_id, func.count().label("n"))
                .where(
                    t.c.household_id.in_([k.parent_id for k in group]),
                    t.c.household_id.in_(self.ctx.scope.household_ids()),
                    *self.conditions(filter),
                )
                .group_by(t.c.household_id)
            )
            found = {row.household_id: row.n for row in await self.rows(stmt)}
            for key in group:
                counts[key] = found.get(key.parent_id, 0)
        return [counts[key] for key in keys]


class DemandPagesByHouseholdLoader(ChildPageLoader):
    table = demands_t
    time_column = "created_at"


OPEN_DEMANDS = "open"  # a CountKey filter: the demands not finished yet


class DemandCountByHouseholdLoader(ChildCountLoader):
    """Filter: None (every demand) or OPEN_DEMANDS."""

    table = demands_t

    def conditions(self, filter: Any) -> list[Any]:
        if filter == OPEN_DEMANDS:
            return [self.table.c.status.in_(sorted(OPEN_STATUSES))]
        return []


class AccessPagesByHouseholdLoader(ChildPageLoader):
    table = access_t
    time_column = "at"


class AccessCountByHouseholdLoader(ChildCountLoader):
    table = access_t


class AuditEventByIdLoader(ScopedByIdLoader):
    table = audit_t


class UserByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Professionals are not personal data of households: their name, role and
    organisation are visible to any authenticated viewer (who did what)."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(users_t).where(users_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class OrganisationByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(organisations_t).where(organisations_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class TerritoryByCodeLoader(SqlLoader[str, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(territories_t).where(territories_t.c.code.in_(keys))
        return one_per_key(await self.rows(stmt), keys, "code")


class MembershipByIdLoader(ScopedByIdLoader):
    table = memberships_t


class Loaders:
    """Every loader of one request, created on first use."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @cached_property
    def household_by_id(self) -> HouseholdByIdLoader:
        return HouseholdByIdLoader(self._ctx)

    @cached_property
    def household_by_reference(self) -> HouseholdByReferenceLoader:
        return HouseholdByReferenceLoader(self._ctx)

    @cached_property
    def person_by_id(self) -> PersonByIdLoader:
        return PersonByIdLoader(self._ctx)

    @cached_property
    def memberships_by_household(self) -> MembershipsByHouseholdIdLoader:
        return MembershipsByHouseholdIdLoader(self._ctx)

    @cached_property
    def memberships_by_person(self) -> MembershipsByPersonIdLoader:
        return MembershipsByPersonIdLoader(self._ctx)

    @cached_property
    def membership_by_id(self) -> MembershipByIdLoader:
        return MembershipByIdLoader(self._ctx)

    @cached_property
    def demand_by_id(self) -> DemandByIdLoader:
        return DemandByIdLoader(self._ctx)

    @cached_property
    def concerned_persons(self) -> ConcernedPersonsByDemandIdLoader:
        return ConcernedPersonsByDemandIdLoader(self._ctx)

    @cached_property
    def demand_pages(self) -> DemandPagesByHouseholdLoader:
        return DemandPagesByHouseholdLoader(self._ctx)

    @cached_property
    def demand_counts(self) -> DemandCountByHouseholdLoader:
        return DemandCountByHouseholdLoader(self._ctx)

    @cached_property
    def audit_pages(self) -> record.AuditPagesByHouseholdLoader:
        return record.AuditPagesByHouseholdLoader(self._ctx)

    @cached_property
    def audit_counts(self) -> record.AuditCountByHouseholdLoader:
        return record.AuditCountByHouseholdLoader(self._ctx)

    @cached_property
    def access_pages(self) -> AccessPagesByHouseholdLoader:
        return AccessPagesByHouseholdLoader(self._ctx)

    @cached_property
    def access_counts(self) -> AccessCountByHouseholdLoader:
        return AccessCountByHouseholdLoader(self._ctx)

    @cached_property
    def audit_event_by_id(self) -> AuditEventByIdLoader:
        return AuditEventByIdLoader(self._ctx)

    @cached_property
    def user_by_id(self) -> UserByIdLoader:
        return UserByIdLoader(self._ctx)

    @cached_property
    def organisation_by_id(self) -> OrganisationByIdLoader:
        return OrganisationByIdLoader(self._ctx)

    @cached_property
    def territory_by_code(self) -> TerritoryByCodeLoader:
        return TerritoryByCodeLoader(self._ctx)

    @cached_property
    def duplicates_by_person(self) -> DuplicatesByPersonLoader:
        from resolvers.duplicates import DuplicatesByPersonLoader

        return DuplicatesByPersonLoader(self._ctx)

    @cached_property
    def structure_by_id(self) -> StructureByIdLoader:
        return StructureByIdLoader(self._ctx)

    @cached_property
    def place_by_id(self) -> PlaceByIdLoader:
        return PlaceByIdLoader(self._ctx)

    @cached_property
    def places_by_structure(self) -> PlacesByStructureLoader:
        return PlacesByStructureLoader(self._ctx)

    @cached_property
    def orientations_by_demand(self) -> OrientationsByDemandLoader:
        return OrientationsByDemandLoader(self._ctx)

    @cached_property
    def stays_by_demand(self) -> StaysByDemandLoader:
        return StaysByDemandLoader(self._ctx)

    @cached_property
    def orientation_by_id(self) -> OrientationByIdLoader:
        return OrientationByIdLoader(self._ctx)

    @cached_property
    def stay_by_id(self) -> StayByIdLoader:
        return StayByIdLoader(self._ctx)

    # --- the household record (resolvers.record_loaders) ---

    @cached_property
    def evaluation_pages(self) -> record.EvaluationPagesByHouseholdLoader:
        return record.EvaluationPagesByHouseholdLoader(self._ctx)

    @cached_property
    def evaluation_counts(self) -> record.EvaluationCountByHouseholdLoader:
        return record.EvaluationCountByHouseholdLoader(self._ctx)

    @cached_property
    def evaluation_by_id(self) -> record.EvaluationByIdLoader:
        return record.EvaluationByIdLoader(self._ctx)

    @cached_property
    def latest_evaluation(self) -> record.LatestEvaluationLoader:
        return record.LatestEvaluationLoader(self._ctx)

    @cached_property
    def note_pages(self) -> record.NotePagesByHouseholdLoader:
        return record.NotePagesByHouseholdLoader(self._ctx)

    @cached_property
    def note_counts(self) -> record.NoteCountByHouseholdLoader:
        return record.NoteCountByHouseholdLoader(self._ctx)

    @cached_property
    def note_by_id(self) -> record.NoteByIdLoader:
        return record.NoteByIdLoader(self._ctx)

    @cached_property
    def concerned_by_note(self) -> record.ConcernedPersonsByNoteIdLoader:
        return record.ConcernedPersonsByNoteIdLoader(self._ctx)

    @cached_property
    def attachments_by_household(self) -> AttachmentsByHouseholdLoader:
        from resolvers.attachment import AttachmentsByHouseholdLoader

        return AttachmentsByHouseholdLoader(self._ctx)

    @cached_property
    def attachment_by_id(self) -> AttachmentByIdLoader:
        from resolvers.attachment import AttachmentByIdLoader

        return AttachmentByIdLoader(self._ctx)

    @cached_property
    def situation_by_household(self) -> SectionsByHouseholdLoader:
        from resolvers.situation import SectionsByHouseholdLoader

        return SectionsByHouseholdLoader(self._ctx)

    @cached_property
    def situation_by_person(self) -> SectionsByPersonLoader:
        from resolvers.situation import SectionsByPersonLoader

        return SectionsByPersonLoader(self._ctx)


def load_all(loader: DataLoader[Any, Any], keys: Iterable[Any]) -> Awaitable[list[Any]]:
    return loader.load_many(list(keys))


# --- structures, places, orientations, stays (demands issue) ---------------------------

places_t: Table = Place.__table__  # type: ignore[assignment]
orientations_t: Table = Orientation.__table__  # type: ignore[assignment]
stays_t: Table = Stay.__table__  # type: ignore[assignment]


class StructureByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Structures (organisations of kind STRUCTURE) are not personal data."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(organisations_t).where(
            organisations_t.c.id.in_(keys),
            organisations_t.c.kind == OrganisationKind.STRUCTURE,
        )
        return one_per_key(await self.rows(stmt), keys)


class PlaceByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(places_t).where(places_t.c.id.in_(keys))
        return one_per_key(await self.rows(stmt), keys)


class PlacesByStructureLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(places_t)
            .where(places_t.c.organisation_id.in_(keys))
            .order_by(places_t.c.place_type)
        )
        return many_per_key(await self.rows(stmt), keys, "organisation_id")


class _ByDemand(SqlLoader[uuid.UUID, list[Row[Any]]]):
    table: Table
    order: str

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = self.table
        stmt = (
            select(t)
            .where(t.c.demand_id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids()))
            .order_by(t.c[self.order], t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "demand_id")


class OrientationsByDemandLoader(_ByDemand):
    table = orientations_t
    order = "proposed_at"


class StaysByDemandLoader(_ByDemand):
    table = stays_t
    order = "id"


class OrientationByIdLoader(ScopedByIdLoader):
    table = orientations_t


class StayByIdLoader(ScopedByIdLoader):
    table = stays_t


# The record's loaders subclass the ones above: imported last (they import this module).
from resolvers import record_loaders as record  # noqa: E402
