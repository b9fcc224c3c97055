"""Reading persons and their memberships."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from resolvers.context import Context
from resolvers.loaders import Later, now_or_later, then


def person(ctx: Context, person_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.person_by_id, person_id)


def memberships(ctx: Context, person_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.memberships_by_person, person_id)


def _open(rows: list[Row[Any]]) -> Row[Any] | None:
    return next((r for r in rows if r.validity.upper is None), None)


def current_household(ctx: Context, person_id: uuid.UUID) -> Later[Row[Any] | None]:
    def household_of(rows: list[Row[Any]]) -> Later[Row[Any] | None]:
        current = _open(rows)
        if current is None:
            return None
        return now_or_later(ctx.loaders.household_by_id, current.household_id)

    # `then` awaits what `household_of` returns when it is a future itself.
    return then(memberships(ctx, person_id), household_of)
