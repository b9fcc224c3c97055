"""Reading accompaniments: by id, a household's (current and past), and the households an
organisation accompanies now. Same rules as every loader (`resolvers.loaders`): per
request, one statement per batch, the row scope inside the SQL; an accompaniment is a
record of its household (rule HOUSEHOLD_RECORD, category ACCOMPANIMENTS).

"Now" is the database's `now()`, as in the row scope (`auth.scope.accompanied_by`): an
accompaniment a mutation of this very request ended is past in its answer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, func, select

from models import Accompaniment
from resolvers.context import Context
from resolvers.household_loaders import households_t
from resolvers.loader_base import ManyLoader, ScopedByIdLoader, SqlLoader, many_per_key
from resolvers.loaders import Later, now_or_later, then
from resolvers.pagination import (
    ResolvedPage,
    check_first,
    decode_key_cursor,
    encode_key_cursor,
)

accompaniments_t: Table = Accompaniment.__table__

# Whether the accompaniment lasts now (the database's clock, as the row scope).
_CURRENT = accompaniments_t.c.validity.contains(func.now()).label("is_current")


class AccompanimentByIdLoader(ScopedByIdLoader):
    shows = "Accompaniment"
    table = accompaniments_t

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        t = self.table
        stmt = select(t, _CURRENT).where(
            t.c.id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids())
        )
        found = {row.id: row for row in await self.rows(stmt)}
        return [found.get(key) for key in keys]


class AccompanimentsByHouseholdLoader(ManyLoader[uuid.UUID]):
    """Every accompaniment of each household, current and past, oldest start first."""

    shows = "Accompaniment"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = accompaniments_t
        stmt = (
            select(t, _CURRENT)
            .where(
                t.c.household_id.in_(keys),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(t.c.validity), t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


@dataclass(frozen=True, slots=True)
class OrganisationPageKey:
    """A page of the households an organisation accompanies now, by reference."""

    organisation_id: uuid.UUID
    first: int
    after: str | None


def _accompanied_now(organisation_ids: list[uuid.UUID]) -> Any:
    """(household, organisation) of the accompaniments of these organisations lasting now:
    at most one per pair (`accompaniment_no_overlap`)."""
    a = accompaniments_t
    return (
        select(a.c.household_id, a.c.organisation_id)
        .where(a.c.organisation_id.in_(organisation_ids), a.c.validity.contains(func.now()))
        .subquery("accompanied")
    )


class AccompaniedHouseholdPagesLoader(SqlLoader[OrganisationPageKey, tuple[list[Row[Any]], bool]]):
    """Pages of the households each organisation accompanies now, within the VIEWER's row
    scope (an intersection: never a household the viewer could not read otherwise), in one
    statement per distinct (first, after)."""

    shows = "Household"

    def denied(self) -> Any:
        return ([], False)

    async def load_batch(
        self, keys: list[OrganisationPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, str | None], list[OrganisationPageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after)].append(key)
        pages: dict[OrganisationPageKey, tuple[list[Row[Any]], bool]] = {}
        h = households_t
        for (first, after), group in groups.items():
            acc = _accompanied_now([k.organisation_id for k in group])
            conditions: list[Any] = [self.ctx.scope.households(h)]
            if after is not None:
                conditions.append(h.c.reference > after)
            rank = (
                func.row_number()
                .over(partition_by=acc.c.organisation_id, order_by=h.c.reference)
                .label("rank")
            )
            inner = (
                select(h, acc.c.organisation_id.label("accompanying_id"), rank)
                .select_from(h.join(acc, acc.c.household_id == h.c.id))
                .where(*conditions)
                .subquery()
            )
            stmt = (
                select(inner)
                .where(inner.c.rank <= first + 1)
                .order_by(inner.c.accompanying_id, inner.c.rank)
            )
            grouped = many_per_key(
                await self.rows(stmt), [k.organisation_id for k in group], "accompanying_id"
            )
            for key, rows in zip(group, grouped, strict=True):
                pages[key] = (rows[:first], len(rows) > first)
        return [pages[key] for key in keys]


class AccompaniedHouseholdCountsLoader(SqlLoader[uuid.UUID, int]):
    """How many households each organisation accompanies now, within the viewer's scope."""

    shows = "Household"

    def denied(self) -> Any:
        return 0

    async def load_batch(self, keys: list[uuid.UUID]) -> list[int]:
        h = households_t
        acc = _accompanied_now(keys)
        stmt = (
            select(acc.c.organisation_id, func.count().label("n"))
            .select_from(h.join(acc, acc.c.household_id == h.c.id))
            .where(self.ctx.scope.households(h))
            .group_by(acc.c.organisation_id)
        )
        found = {row.organisation_id: row.n for row in await self.rows(stmt)}
        return [found.get(key, 0) for key in keys]


def accompaniment(ctx: Context, accompaniment_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.accompaniment_by_id, accompaniment_id)


def of_household(
    ctx: Context, household_id: uuid.UUID, current: bool | None
) -> Later[list[Row[Any]]]:
    """The household's accompaniments, oldest start first; `current`: only those lasting
    now (true) or only the others (false)."""

    def narrowed(rows: list[Row[Any]]) -> list[Row[Any]]:
        if current is None:
            return rows
        return [row for row in rows if bool(row.is_current) is current]

    return then(now_or_later(ctx.loaders.accompaniments_by_household, household_id), narrowed)


def page_key(
    ctx: Context, organisation_id: uuid.UUID, first: int | None, after: str | None
) -> OrganisationPageKey:
    cursor = decode_key_cursor(after)
    if cursor is not None and not (len(cursor) == 10 and cursor.isdigit()):
        from resolvers.errors import bad_input

        raise bad_input("Malformed cursor in `after`.", field="after")
    return OrganisationPageKey(organisation_id, check_first(first, ctx.settings), cursor)


def accompanied_households(
    ctx: Context, organisation_id: uuid.UUID, first: int | None, after: str | None
) -> Later[ResolvedPage]:
    """The households the organisation accompanies now that the viewer may see, by
    reference (the key must equal the one `resolvers.prefetch` builds)."""
    key = page_key(ctx, organisation_id, first, after)

    def resolved(page: tuple[list[Row[Any]], bool]) -> ResolvedPage:
        rows, has_next = page
        loader = ctx.loaders.household_by_id
        for row in rows:
            loader.prime(row.id, row)
        return ResolvedPage(
            rows=rows,
            cursors=[encode_key_cursor(r.reference) for r in rows],
            has_next=has_next,
            count=lambda: now_or_later(ctx.loaders.accompanied_household_counts, organisation_id),
        )

    return then(now_or_later(ctx.loaders.accompanied_household_pages, key), resolved)
