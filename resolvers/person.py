"""Reading persons and their memberships."""

from __future__ import annotations

import uuid
from inspect import isawaitable
from typing import Any

from sqlalchemy import Row

from resolvers.context import Context
from resolvers.loaders import now_or_later, then


def person(ctx: Context, person_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.person_by_id, person_id)


def memberships(ctx: Context, person_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.memberships_by_person, person_id)


def _open(rows: list[Row[Any]]) -> Row[Any] | None:
    return next((r for r in rows if r.validity.upper is None), None)


def current_household(ctx: Context, person_id: uuid.UUID) -> Any:
    def household_of(rows: list[Row[Any]]) -> Any:
        current = _open(rows)
        if current is None:
            return None
        return now_or_later(ctx.loaders.household_by_id, current.household_id)

    value = then(memberships(ctx, person_id), household_of)
    if isawaitable(value):

        async def flatten() -> Any:
            inner = await value
            return (await inner) if isawaitable(inner) else inner

        return flatten()
    return value
