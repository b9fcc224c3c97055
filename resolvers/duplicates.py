"""Likely duplicates of a person: same birth date and the same or close names (trigram
similarity of the normalised name keys ≥ 0.6), among the persons the viewer could find
with the search view (their territory; protected households only if they accompany
them). Non-blocking: creating a person still succeeds; the payload carries warnings.

Threat stopped: a warning (or its cost) telling that a person exists where the viewer may
not search. The persons born the same day are narrowed to those the viewer may search
before any name is compared, in one statement whatever is found: a likely duplicate in
another territory or in a protected household the viewer does not accompany answers, and
costs, what no duplicate does."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, and_, func, not_, or_, select
from sqlalchemy.orm import aliased

from auth.scope import accompanied_by
from models import Accompaniment, AccompanimentRole, Household, Membership, Organisation, Person
from resolvers.loader_base import ManyLoader, many_per_key

CLOSE_NAMES = 0.6
MAX_CANDIDATES = 10


class DuplicatesByPersonLoader(ManyLoader[uuid.UUID]):
    shows = "PersonSearchResult"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        viewer = self.ctx.authenticated
        if not viewer.may_search:
            return [[] for _ in keys]
        source = aliased(Person, name="source")
        # The persons the viewer could find with the search and born the same day, behind
        # a fence (OFFSET 0: the name test below is not pushed down into this scan), so
        # that names are compared only within what the viewer may search.
        scoped = (
            select(
                Person.id,
                Person.first_name,
                Person.last_name,
                Person.usage_name,
                Person.birth_date,
                Person.sex,
                Person.name_key,
                Household.id.label("household_id"),
                Household.reference,
            )
            .join(
                Membership,
                and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
            )
            .join(Household, Household.id == Membership.household_id)
            .where(
                Person.id != source.id,
                Person.birth_date == source.birth_date,
                Household.territory_code == viewer.territory_code,
                or_(not_(Household.protected), accompanied_by(viewer, Household.id)),
            )
            .correlate(source)
            .offset(0)
            .lateral("scoped")
        )
        organisations = (
            select(func.array_agg(func.distinct(Organisation.name)))
            .select_from(Accompaniment)
            .join(Organisation, Organisation.id == Accompaniment.organisation_id)
            .where(
                Accompaniment.household_id == scoped.c.household_id,
                Accompaniment.validity.contains(func.now()),  # as scope.accompanied_by
                # Whom to call: not a partner service (an addiction service says too much).
                Accompaniment.role != AccompanimentRole.PARTNER_SERVICE,
            )
            .scalar_subquery()
        )
        similarity = func.similarity(scoped.c.name_key, source.name_key)
        candidates = (
            select(
                scoped.c.first_name,
                scoped.c.last_name,
                scoped.c.usage_name,
                scoped.c.birth_date,
                scoped.c.sex,
                scoped.c.reference,
                organisations.label("organisations"),
                (similarity + 1).label("score"),
            )
            .select_from(scoped)
            .where(similarity >= CLOSE_NAMES)
            .order_by(similarity.desc(), scoped.c.id)
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
