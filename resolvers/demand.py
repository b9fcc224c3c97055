"""Reading demands."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from resolvers.context import Context
from resolvers.loaders import Later, now_or_later


def demand(ctx: Context, demand_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.demand_by_id, demand_id)


def concerned_persons(ctx: Context, demand_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.concerned_persons, demand_id)


def household(ctx: Context, household_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.household_by_id, household_id)
