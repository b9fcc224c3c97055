"""The kinds of dataloader every domain's loaders are made of: a loader that runs one SQL
statement per batch (`SqlLoader`), rows of a household-owned table by id within the row
scope, the persons a record concerns, and newest-first pages and counts of a household's
children. The per-request aggregate that creates them is `resolvers.loaders.Loaders`."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Row, Select, Table, func, literal, select, tuple_

from auth.visibility import may_load
from resolvers.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from resolvers.context import Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SqlLoader(DataLoader[K, V]):
    """A loader of one type's rows. `shows` names the GraphQL type its rows become: before
    any SQL, the type's rule (`auth.visibility.may_load`) decides whether this viewer may
    see any of them; if not, every key answers `denied()` (not found, an empty list), the
    same for rows that exist and rows that do not. `load_batch` then runs the SQL, the row
    scope inside it."""

    shows: ClassVar[str]

    def __init__(self, ctx: Context) -> None:
        # The loader's cache is a map of our own (aiodataloader's public `cache_map`):
        # `resolvers.loaders.now_or_later` reads in it whether a key is already loaded.
        self.futures: dict[K, asyncio.Future[V]] = {}
        super().__init__(cache_map=self.futures)
        self.ctx = ctx

    async def rows(self, statement: Select[Any]) -> Sequence[Row[Any]]:
        return (await self.ctx.execute(statement)).all()

    def denied(self) -> Any:
        """What a key answers when the viewer may see no row of the type."""
        return None

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        if not may_load(self.ctx.authenticated, self.shows):
            return [self.denied() for _ in keys]
        return await self.load_batch(keys)

    async def load_batch(self, keys: list[K]) -> list[V]:
        raise NotImplementedError


class ManyLoader(SqlLoader[K, list[Row[Any]]]):
    """A loader of lists (the rows of each key)."""

    def denied(self) -> Any:
        return []


def one_per_key(rows: Iterable[Any], keys: Sequence[Any], attr: str = "id") -> list[Any]:
    found = {getattr(row, attr): row for row in rows}
    return [found.get(key) for key in keys]


def many_per_key(rows: Iterable[Any], keys: Sequence[Any], attr: str) -> list[list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, attr)].append(row)
    return [grouped.get(key, []) for key in keys]


class ScopedByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """Rows of a household-owned table by id, within the row scope."""

    table: Table

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        t = self.table
        stmt = select(t).where(
            t.c.id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids())
        )
        return one_per_key(await self.rows(stmt), keys)


class ConcernedPersonsLoader(ManyLoader[uuid.UUID]):
    """The persons a household-owned record (demand, note) concerns, through its link
    table (`parent` rows, `link` with `<key>` and `person_id`), within the row scope, each
    seen through the record's household (rule PERSON: a member who left it shows as she
    was when she left)."""

    shows = "Person"
    parent: Table
    link: Table
    key: str

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        from resolvers.household_loaders import SeenPerson, seen_persons

        parent, link = self.parent, self.link
        source = (
            select(
                link.c[self.key].label("record_id"),
                link.c.person_id.label("asked_id"),
                parent.c.household_id.label("via_id"),
            )
            .join(parent, parent.c.id == link.c[self.key])
            .where(
                link.c[self.key].in_(keys),
                parent.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .subquery("concerned")
        )
        stmt = seen_persons(self.ctx.scope, source, source.c.asked_id, source.c.via_id)
        seen = [SeenPerson.of(row) for row in await self.rows(stmt)]
        seen.sort(key=lambda p: (p.last_name, p.first_name, p.id))
        return many_per_key(seen, keys, "record_id")


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

    def denied(self) -> Any:
        return Page(rows=[], has_next=False)

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

    async def load_batch(self, keys: list[PageKey]) -> list[Page]:
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

    def denied(self) -> Any:
        return 0

    async def load_batch(self, keys: list[CountKey]) -> list[int]:
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
