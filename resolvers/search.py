"""The search view (`searchPersons`): find a person of one's territory without following
their household, to avoid duplicates and know whom to call.

Threats stopped: the search becoming a way round the row scope. It returns only the
minimal identity, the household reference and the names of the accompanying
organisations (no id that leads further), only for households of the viewer's
territory, and never persons of a protected household the viewer does not accompany.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from sqlalchemy import Row, String, and_, cast, func, literal, not_, or_, select

from auth.scope import accompanied_by
from models import Accompaniment, Household, Membership, Organisation, Person
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode, bad_input
from resolvers.pagination import check_first

MAX_QUERY = 200


def _tokens(query: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", query.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [t for t in re.split(r"[^a-z0-9]+", plain) if t]


def _haystack() -> Any:
    names = func.concat_ws(" ", Person.first_name, Person.last_name, Person.usage_name)
    return func.regexp_replace(func.unaccent(func.lower(names)), "[^a-z0-9]+", " ", "g")


async def search_persons(
    ctx: Context, query: str, birth_date: date | None, first: int
) -> list[Row[Any]]:
    viewer = ctx.authenticated
    if not viewer.may_search:
        raise CodedError(ErrorCode.FORBIDDEN, "You may not search persons.")
    check_first(first, ctx.settings)
    if len(query) > MAX_QUERY:
        raise bad_input(f"The query is longer than {MAX_QUERY} characters.", field="query")
    tokens = _tokens(query)
    if not tokens and birth_date is None:
        raise bad_input("Give a name (or part of one) or a birth date.", field="query")
    haystack = literal(" ").concat(_haystack()).concat(" ")
    conditions = [
        Household.territory_code == viewer.territory_code,
        or_(not_(Household.protected), accompanied_by(viewer, Household.id)),
        *(haystack.contains(cast(f" {t}", String)) for t in tokens),
    ]
    if birth_date is not None:
        conditions.append(Person.birth_date == birth_date)
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
    stmt = (
        select(
            Person.first_name,
            Person.last_name,
            Person.usage_name,
            Person.birth_date,
            Person.sex,
            Household.reference,
            organisations.label("organisations"),
        )
        .join(
            Membership,
            and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
        )
        .join(Household, Household.id == Membership.household_id)
        .where(*conditions)
        .order_by(Person.last_name, Person.first_name, Person.birth_date, Person.id)
        .limit(first)
    )
    return list((await ctx.execute(stmt)).all())
