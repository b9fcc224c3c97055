"""Reading households, their members, demands and change log."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, false, func, select

from auth.visibility import may_load
from models import Relationship
from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.household_loaders import SeenPerson, households_t
from resolvers.loader_base import ChildCountLoader, ChildPageLoader, CountKey, PageKey
from resolvers.loaders import Later, now_or_later, then
from resolvers.pagination import (
    ResolvedPage,
    check_first,
    decode_key_cursor,
    encode_key_cursor,
)


def household(ctx: Context, household_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.household_by_id, household_id)


def household_by_reference(ctx: Context, reference: str) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.household_by_reference, reference)


def person(ctx: Context, person_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.person_by_id, person_id)


def member(ctx: Context, person_id: uuid.UUID, household_id: uuid.UUID) -> Later[SeenPerson | None]:
    """A member of a household as the viewer may see them (rule PERSON)."""
    return now_or_later(ctx.loaders.person_in_household, (person_id, household_id))


def last_activity(
    ctx: Context, household_id: uuid.UUID, recorded: datetime, created: datetime
) -> Later[datetime]:
    """When the record last changed, as far as this viewer may see (`recorded`: the
    household's column, which counts every change and drives purges). A viewer for whom
    some kinds of change are not listed (`record_loaders.hidden_entity_types`) gets the
    latest change it may list instead."""
    from resolvers.record_loaders import unseen_entity_types

    if not unseen_entity_types(ctx.authenticated):
        return recorded
    return then(
        now_or_later(ctx.loaders.last_activity, household_id),
        lambda at: at or created,
    )


def territory(ctx: Context, code: str) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.territory_by_code, code)


def _reference_first(row: Row[Any]) -> tuple[int, datetime]:
    return (0 if row.relationship == Relationship.REFERENCE_PERSON else 1, row.validity.lower)


def current(rows: list[Row[Any]], at: datetime | None = None) -> list[Row[Any]]:
    """The memberships valid at `at`, or the open ones (the members now) when `at` is None;
    reference person first.

    Now is "open", not "valid at `Context.now`": a membership's bounds are instants of
    the writes that recorded them (`resolvers.writes.write_instant`, the database's clock),
    so that a member this very request added is a member now, whenever the request read
    its clock (a test's clock may even be frozen before the write)."""
    if at is None:
        return sorted((r for r in rows if r.validity.upper is None), key=_reference_first)
    return sorted((r for r in rows if at in r.validity), key=_reference_first)


def members(ctx: Context, household_id: uuid.UUID, at: datetime | None) -> Later[list[Row[Any]]]:
    """The members at `at` (default: now, the open memberships)."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return then(
        now_or_later(ctx.loaders.memberships_by_household, household_id),
        lambda rows: current(rows, at),
    )


def member_history(ctx: Context, household_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.memberships_by_household, household_id)


def child_page(
    ctx: Context,
    pages: ChildPageLoader,
    counts: ChildCountLoader,
    household_id: uuid.UUID,
    first: int | None,
    after: str | None,
    filter: Hashable = None,
) -> Later[ResolvedPage]:
    """A page of one household's list, through loaders that batch every household of the
    request (the key must equal the one `resolvers.prefetch` builds for the same field)."""
    key = PageKey(
        household_id, check_first(first, ctx.settings), pages.decode_cursor(after), filter
    )
    return then(
        now_or_later(pages, key),
        lambda page: ResolvedPage(
            rows=page.rows,
            cursors=[pages.encode_cursor(r) for r in page.rows],
            has_next=page.has_next,
            count=lambda: now_or_later(counts, CountKey(household_id, filter)),
        ),
    )


def demands(
    ctx: Context, household_id: uuid.UUID, first: int | None, after: str | None
) -> Later[ResolvedPage]:
    loaders = ctx.loaders
    return child_page(ctx, loaders.demand_pages, loaders.demand_counts, household_id, first, after)


def audit_events(
    ctx: Context, household_id: uuid.UUID, filter: Hashable, first: int | None, after: str | None
) -> Later[ResolvedPage]:
    """`filter`: an `AuditFilter` (`resolvers.audit.audit_filter`) or None."""
    loaders = ctx.loaders
    return child_page(
        ctx, loaders.audit_pages, loaders.audit_counts, household_id, first, after, filter
    )


def access_log(
    ctx: Context, household_id: uuid.UUID, first: int | None, after: str | None
) -> Later[ResolvedPage]:
    loaders = ctx.loaders
    return child_page(ctx, loaders.access_pages, loaders.access_counts, household_id, first, after)


async def households(
    ctx: Context, territory: str | None, first: int | None, after: str | None
) -> ResolvedPage:
    """Visible households, ordered by reference; `territory` narrows within the scope."""
    first = check_first(first, ctx.settings)
    conditions = [ctx.scope.households(households_t)]
    if not may_load(ctx.authenticated, "Household"):  # the type's own rule
        conditions.append(false())
    if territory is not None:
        conditions.append(households_t.c.territory_code == territory)
    after_ref = decode_key_cursor(after)
    if after_ref is not None and not (len(after_ref) == 10 and after_ref.isdigit()):
        raise bad_input("Malformed cursor in `after`.", field="after")
    page_conditions = list(conditions)
    if after_ref is not None:
        page_conditions.append(households_t.c.reference > after_ref)
    stmt = (
        select(households_t)
        .where(*page_conditions)
        .order_by(households_t.c.reference)
        .limit(first + 1)
    )
    rows = list((await ctx.execute(stmt)).all())
    has_next = len(rows) > first
    rows = rows[:first]
    loader = ctx.loaders.household_by_id
    for row in rows:
        loader.prime(row.id, row)

    async def count() -> int:
        total = await ctx.execute(select(func.count()).select_from(households_t).where(*conditions))
        return int(total.scalar_one())

    return ResolvedPage(
        rows=rows,
        cursors=[encode_key_cursor(r.reference) for r in rows],
        has_next=has_next,
        count=count,
    )
