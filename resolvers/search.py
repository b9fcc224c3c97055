"""The search view (`searchPersons`): find a person of one's territory without following
their household, to avoid duplicates and know whom to call.

Matching: both sides go through `siao_name_key` (lower-case, accents removed, apostrophes
dropped, hyphens and other separators as spaces), then trigram word similarity
(`pg_trgm`, GIN index on `persons.name_key`): typos, either name order, compound and
maiden/usage names all match. Score (documented in the schema):

    score = word_similarity(query, names) + similarity(query, names) / 2
            + 1 if the birth date given matches

Threats stopped: the search becoming a way round the row scope. It returns only the
minimal identity, the household reference and the names of the accompanying
organisations (no id that leads further), only for households of the viewer's
territory, and never persons of a protected household the viewer does not accompany.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from sqlalchemy import and_, case, extract, func, literal, not_, or_, select

from auth.scope import accompanied_by
from models import Accompaniment, Household, Membership, Organisation, Person
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode, bad_input
from resolvers.pagination import ResolvedPage, check_first

MAX_QUERY = 200
# `totalCount` counts matches up to this many and then stops (it says COUNT_CAP + 1): past
# that, the operator refines the search, and counting every weak match of a common name
# among a million persons costs as much as the page itself.
COUNT_CAP = 1000
# Minimum word similarity for a name to be a candidate (the `<%` operator's threshold,
# set per connection in models.database).
WORD_SIMILARITY_THRESHOLD = 0.4


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(after.encode()).decode())
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


async def search_persons(
    ctx: Context,
    query: str,
    *,
    birth_date: date | None = None,
    birth_year: int | None = None,
    territory: str | None = None,
    first: int = 20,
    after: str | None = None,
) -> ResolvedPage:
    viewer = ctx.authenticated
    if not viewer.may_search:
        raise CodedError(ErrorCode.FORBIDDEN, "You may not search persons.")
    check_first(first, ctx.settings)
    if len(query) > MAX_QUERY:
        raise bad_input(f"The query is longer than {MAX_QUERY} characters.", field="query")
    if territory is not None and territory != viewer.territory_code:
        raise bad_input("You can search your own territory only.", field="territory")
    text = query.strip()
    if not text and birth_date is None:
        raise bad_input("Give a name (or part of one) or a birth date.", field="query")
    key = func.siao_name_key(literal(text))
    conditions: list[Any] = [
        Household.territory_code == viewer.territory_code,
        or_(not_(Household.protected), accompanied_by(viewer, Household.id)),
    ]
    score: Any = literal(0.0)
    if text:
        conditions.append(key.op("<%")(Person.name_key))
        score = (
            func.word_similarity(key, Person.name_key) + func.similarity(key, Person.name_key) / 2
        )
    if birth_date is not None:
        if text:
            score = score + case((Person.birth_date == birth_date, 1.0), else_=0.0)
        else:
            conditions.append(Person.birth_date == birth_date)
    if birth_year is not None:
        conditions.append(extract("year", Person.birth_date) == birth_year)
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
    offset = _offset(after)
    stmt = (
        select(
            Person.first_name,
            Person.last_name,
            Person.usage_name,
            Person.birth_date,
            Person.sex,
            Household.reference,
            organisations.label("organisations"),
            score.label("score"),
        )
        .join(
            Membership,
            and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
        )
        .join(Household, Household.id == Membership.household_id)
        .where(*conditions)
        .order_by(score.desc(), Person.last_name, Person.first_name, Person.id)
        .offset(offset)
        .limit(first + 1)
    )
    rows = list((await ctx.execute(stmt)).all())
    has_next = len(rows) > first
    rows = rows[:first]

    async def count() -> int:
        matches = (
            select(literal(1))
            .select_from(Person)
            .join(
                Membership,
                and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
            )
            .join(Household, Household.id == Membership.household_id)
            .where(*conditions)
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        total = select(func.count()).select_from(matches)
        return int((await ctx.execute(total)).scalar_one())

    return ResolvedPage(
        rows=rows,
        cursors=[_cursor(offset + i + 1) for i in range(len(rows))],
        has_next=has_next,
        count=count,
    )
