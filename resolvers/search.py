"""The search view (`searchPersons`): find a person of one's territory without following
their household, to avoid duplicates and know whom to call.

Matching: both sides go through `siao_name_key` (lower-case, accents removed, apostrophes
dropped, hyphens and other separators as spaces). Candidates are the persons who have, for
every word typed, a word of their names close to it: the close words come from the
dictionary of name words (`name_words`: trigram similarity ≥ 0.3, or one slip away; a
few milliseconds), the
persons from the GIN index on their `name_words`. Typos, either name order, compound and
maiden/usage names all match; words of two letters or less ("de", "la") are not required
when longer ones are typed. When that finds nobody (a typed word close to no known word),
the search falls back to trigram word similarity of the whole query against every full
name (`<%`, GIN index on `persons.name_key`), which is slower but forgives more.
Score, either way (documented in the schema):

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

from sqlalchemy import and_, case, extract, func, literal, not_, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

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


# Words this short are not required when longer ones are typed (particles: de, la, el).
PARTICLE_MAX = 2
# The known words close to each typed one: those at a trigram similarity of 0.3 or more
# (the `%` operator, its threshold set per connection in models.database), and those one
# slip away (a letter dropped, added, replaced, or two letters swapped), which trigrams
# miss in short names ("pertov" for Petrov is 0.27, "ouar" for Omar 0.25): each typed word's
# ~50 × its length variants are looked up in the dictionary's primary key. Measured on 400
# names mangled as bench/scenarios.py does, at a million persons: the person is on the first
# page 97.8 % of the time (97.0 % with the full-name similarity alone), in 10 ms of database
# time instead of 45.
# ... of which the trigram-close ones are the `CLOSE_MOST` most similar: a short word typed
# ("marai") is at 0.3 from hundreds of longer ones sharing its first letters ("maraunieux"),
# and ORing hundreds of posting lists of the persons' GIN index (and planning with arrays of
# hundreds of words) cost more than they find. At a million persons (`siao bench run
# --scenario search --concurrency 2 --workers 1 --seconds 20`, two runs each): PostgreSQL
# 13.6 -> 9.6 ms of CPU per search, 51 -> 60 searches/s, the person found 98.6 % -> 98.5 %
# of the time (one run to the next: +-0.4).
CLOSE_MOST = 20
CLOSE_WORDS = text(
    """
    WITH typed AS (
      SELECT DISTINCT word FROM unnest(string_to_array(siao_name_key(:query), ' ')) AS word
      WHERE word <> ''
    ), slips AS (
      SELECT t.word AS typed, ARRAY(
        SELECT left(t.word, i - 1) || substr(t.word, i + 1)
        FROM generate_series(1, length(t.word)) AS i
        UNION ALL
        SELECT left(t.word, i - 1) || substr(t.word, i + 1, 1) || substr(t.word, i, 1)
               || substr(t.word, i + 2)
        FROM generate_series(1, length(t.word) - 1) AS i
        UNION ALL
        SELECT left(t.word, i - 1) || chr(c) || substr(t.word, i + k)
        FROM generate_series(1, length(t.word) + 1) AS i, generate_series(97, 122) AS c,
             generate_series(0, 1) AS k
        WHERE i <= length(t.word) OR k = 0
      ) AS variants FROM typed t
    ), close AS (
      SELECT t.word AS typed, w.word FROM typed t CROSS JOIN LATERAL (
        SELECT n.word FROM name_words n WHERE n.word % t.word
        ORDER BY similarity(n.word, t.word) DESC, n.word LIMIT :most
      ) AS w
      UNION
      SELECT s.typed, w.word FROM slips s JOIN name_words w ON w.word = ANY (s.variants)
    )
    SELECT t.word AS typed, array_remove(array_agg(c.word), NULL) AS close
    FROM typed t LEFT JOIN close c ON c.typed = t.word GROUP BY t.word
    """
)


async def _close_words(ctx: Context, query: str) -> list[list[str]] | None:
    """For each word typed (particles aside), the known name words close to it; None when
    one of them is close to no known word (then only the full-name similarity can help)."""
    rows = (await ctx.execute(CLOSE_WORDS.bindparams(query=query, most=CLOSE_MOST))).all()
    asked = [r for r in rows if len(r.typed) > PARTICLE_MAX] or list(rows)
    if not asked or any(not r.close for r in asked):
        return None
    return [list(r.close) for r in asked]


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
    """One page of the search, run in one of the process's search slots (the bulkhead of
    `Settings.search_concurrency`), like its count."""
    async with ctx.search_slot():
        return await _search_persons(
            ctx,
            query,
            birth_date=birth_date,
            birth_year=birth_year,
            territory=territory,
            first=first,
            after=after,
        )


async def _search_persons(
    ctx: Context,
    query: str,
    *,
    birth_date: date | None,
    birth_year: int | None,
    territory: str | None,
    first: int,
    after: str | None,
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
    by_words: list[list[str]] | None = None
    if text:
        score = (
            func.word_similarity(key, Person.name_key) + func.similarity(key, Person.name_key) / 2
        )
        by_words = await _close_words(ctx, text)
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

    def matching(names: list[Any]) -> list[Any]:
        return [*conditions, *names]

    def page(where: list[Any]) -> Any:
        return (
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
            .where(*where)
            .order_by(score.desc(), Person.last_name, Person.first_name, Person.id)
            .offset(offset)
            .limit(first + 1)
        )

    trigram = matching([key.op("<%")(Person.name_key)] if text else [])
    where, rows = trigram, []
    if by_words is not None:
        where = matching(
            [Person.name_words.overlap(literal(words, ARRAY(Text))) for words in by_words]
        )
        rows = list((await ctx.execute(page(where))).all())
        # Nobody has all the words: the forgiving way. (The word matches are a fixed set,
        # so a later page is empty only when the first one came from here too.)
        if not rows:
            where = trigram
    if not rows:
        rows = list((await ctx.execute(page(where))).all())
    has_next = len(rows) > first
    rows = rows[:first]
    final = where

    async def count() -> int:
        matches = (
            select(literal(1))
            .select_from(Person)
            .join(
                Membership,
                and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
            )
            .join(Household, Household.id == Membership.household_id)
            .where(*final)
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        total = select(func.count()).select_from(matches)
        async with ctx.search_slot():
            return int((await ctx.execute(total)).scalar_one())

    return ResolvedPage(
        rows=rows,
        cursors=[_cursor(offset + i + 1) for i in range(len(rows))],
        has_next=has_next,
        count=count,
    )
