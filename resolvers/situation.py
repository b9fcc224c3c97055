"""Reading the situation sections: one statement per level for the household sections of
every household asked, one for the person sections of every member asked.

Row scope: a household's sections when the household is visible; a person's sections when
the person's *current* household is visible (a person's situation follows them: the
social worker of a household they left does not read what is written about them since).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, exists, func, select

from models import Membership, SituationRecord
from resolvers.context import Context
from resolvers.loader_base import SqlLoader, many_per_key
from resolvers.loaders import now_or_later

situations_t: Table = SituationRecord.__table__  # type: ignore[assignment]
memberships_t: Table = Membership.__table__  # type: ignore[assignment]


class SectionsByHouseholdLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = situations_t
        stmt = select(t).where(
            t.c.household_id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids())
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class SectionsByPersonLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t, m = situations_t, memberships_t
        current_household_visible = exists().where(
            m.c.person_id == t.c.person_id,
            func.upper_inf(m.c.validity),
            m.c.household_id.in_(self.ctx.scope.household_ids()),
        )
        stmt = select(t).where(t.c.person_id.in_(keys), current_household_visible)
        return many_per_key(await self.rows(stmt), keys, "person_id")


def household_sections(ctx: Context, household_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.situation_by_household, household_id)


def person_sections(ctx: Context, person_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.situation_by_person, person_id)
