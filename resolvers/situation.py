"""Reading the situation sections: one statement per level for the household sections of
every household asked, one for the person sections of every member asked.

Row scope: a household's sections when the household is visible; a person's sections when
the person is (rule PERSON of `auth.visibility`: her anchor household, the one she belongs
to now or the last one, is visible): a person's situation follows her, and the social
worker of a household she left does not read what is written about her since.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, select

from models import Membership, SituationRecord
from resolvers.context import Context
from resolvers.loader_base import ManyLoader, many_per_key
from resolvers.loaders import Later, now_or_later

situations_t: Table = SituationRecord.__table__
memberships_t: Table = Membership.__table__


class SectionsByHouseholdLoader(ManyLoader[uuid.UUID]):
    shows = "HouseholdSituation"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = situations_t
        stmt = select(t).where(
            t.c.household_id.in_(keys), t.c.household_id.in_(self.ctx.scope.household_ids())
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class SectionsByPersonLoader(ManyLoader[uuid.UUID]):
    shows = "MemberSituation"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = situations_t
        stmt = select(t).where(t.c.person_id.in_(keys), self.ctx.scope.persons(t.c.person_id))
        return many_per_key(await self.rows(stmt), keys, "person_id")


def household_sections(ctx: Context, household_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.situation_by_household, household_id)


def person_sections(ctx: Context, person_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.situation_by_person, person_id)
