"""Likely duplicates of a person: same birth date and the same or close names (trigram
similarity of the normalised name keys ≥ 0.6), among the persons the viewer could find
with the search view (their territory; protected households only if they accompany
them). Non-blocking: creating a person still succeeds; the payload carries warnings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, and_, func, not_, or_, select
from sqlalchemy.orm import aliased

from auth.scope import accompanied_by
from models import Accompaniment, Household, Membership, Organisation, Person
from resolvers.loader_base import SqlLoader, many_per_key

CLOSE_NAMES = 0.6
MAX_CANDIDATES = 10


class DuplicatesByPersonLoader(SqlLoader[uuid.UUID, list[Row[Any]]]):
    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        viewer = self.ctx.authenticated
        if not viewer.may_search:
            return [[] for _ in keys]
        source = aliased(Person, name="source")
        organisations = (
            select(func.array_agg(func.distinct(Organisation.name)))
            .select_from(Accompaniment)
            .join(Organisation, Organisation.id == Accompaniment.organisation_id)
            .where(
                Accompaniment.household_id == Household.id,
                Accompaniment.validity.contains(func.now()),
            )
            .scalar_subquery()
        )
        similarity = func.similarity(Person.name_key, source.name_key)
        candidates = (
            select(
                Person.first_name,
                Person.last_name,
                Person.usage_name,
                Person.birth_date,
                Person.sex,
                Household.reference,
                organisations.label("organisations"),
                (similarity + 1).label("score"),
            )
            .join(
                Membership,
                and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
            )
            .join(Household, Household.id == Membership.household_id)
            .where(
                Person.id != source.id,
                Person.birth_date == source.birth_date,
                similarity >= CLOSE_NAMES,
                Household.territory_code == viewer.territory_code,
                or_(not_(Household.protected), accompanied_by(viewer, Household.id)),
            )
            .order_by(similarity.desc(), Person.id)
            .limit(MAX_CANDIDATES)
            .lateral("candidate")
        )
        stmt = (
            select(source.id.label("source_id"), candidates)
            .select_from(source)
            .join(candidates, candidates.c.reference.is_not(None))
            .where(source.id.in_(keys))
        )
        return many_per_key(await self.rows(stmt), keys, "source_id")
