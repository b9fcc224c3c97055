"""The search view (`searchPersons`): find a person of one's territory without following
their household, to avoid duplicates and know whom to call.

Matching: both sides go through `siao_name_key` (lower-case, accents removed, apostrophes
dropped, hyphens and other separators as spaces). Candidates are the persons who have, for
every word typed, a word of their names close to it: the close words (trigram similarity
≥ 0.3, or one slip away; a few milliseconds) come from the words of the persons the
viewer may search, that is the dictionary of their territory (`name_words`, the words of
its unprotected households) and the words of the protected households of the territory
they accompany now; the persons come from the GIN index on their `name_words`. Typos,
either name order, compound and maiden/usage names all match; words of two letters or
less ("de", "la") are not required when longer ones are typed. When that finds nobody (a
typed word close to none of those words, or no searchable person with all of them), the
search falls back to trigram word similarity of the whole query against every full name
(`<%`, GIN index on `persons.name_key`), which is slower but forgives more. Score, either
way (documented in the schema):

    score = word_similarity(query, names) + similarity(query, names) / 2
            + 1 if the birth date given matches

Threats stopped: the search becoming a way round the row scope. It returns only the
minimal identity, the household reference and the names of the accompanying
organisations (no id that leads further), only for households of the viewer's
territory, and never persons of a protected household the viewer does not accompany.

And its cost becoming an oracle (issue #11): a name borne only in another territory, or
in a protected household the viewer does not accompany, costs what a name borne by
nobody costs. The close words are only those of the persons the viewer may search (the
dictionary is exact: migration 0015's triggers remove a word with its last searchable
bearer), so whether the words way finds somebody, and hence whether the full-name way
runs (one statement more), depends only on them. A search is: close words, the page by
words (if every word typed has close words), the page by full name (if that found
nobody), the count of the way that found the page (none when nobody was found).

What remains shared is the persons' GIN indexes, which hold every territory: the other
bearers of a searchable word, and in the full-name way the persons of any territory
whose names are close to the query, are read from the index and dropped by the scope,
an index probe each (microseconds), never a statement or a scan more. And a word whose
last two searchable bearers leave at the same instant, in two transactions, may stay in
the dictionary (each saw the other's bearer): searching it then costs the full-name way,
as before this change, until a bearer comes back. Running both ways in one gated
statement would hide even that, for 2.5 ms more per search (planning the full-name way
every time: 4.5-5.0 ms for the page instead of 2.2-2.4 at 200,000 persons).
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from auth.policy import Relationship
from auth.scope import accompanied_by
from auth.viewer import Viewer
from models import Accompaniment, AccompanimentRole, Household, Membership, Organisation, Person
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
# Only from the words of the persons the viewer may search: the dictionary of their
# territory (unprotected households, `NameWord`) and, for those who accompany households
# (social workers: only they are given accompaniments), the words of the protected
# households of the territory they accompany now, read here (few: ~1% of households are
# protected). Planning that part costs ~0.9 ms at every search, so a viewer who
# accompanies no one (a SIAO operator at the evening rush) runs the statement without it:
# which statement depends on the viewer's role only.
_CLOSE_WORDS = """
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
    ){accompanied}, close AS (
      SELECT t.word AS typed, w.word FROM typed t CROSS JOIN LATERAL ({nearest}) AS w
      UNION
      SELECT s.typed, n.word FROM slips s
      JOIN name_words n ON n.territory_code = :territory AND n.word = ANY (s.variants){slipped}
    )
    SELECT t.word AS typed, array_remove(array_agg(c.word), NULL) AS close
    FROM typed t LEFT JOIN close c ON c.typed = t.word GROUP BY t.word
"""
# The territory's words nearest to a typed one.
_NEAREST = (
    "SELECT n.word FROM name_words n WHERE n.territory_code = :territory AND n.word % t.word"
    " ORDER BY similarity(n.word, t.word) DESC, n.word LIMIT :most"
)
# `now()`: the database's clock, as in `auth.scope.accompanied_by`.
_ACCOMPANIED = """, accompanied AS MATERIALIZED (
      SELECT DISTINCT w AS word
      FROM households h
      JOIN memberships m ON m.household_id = h.id AND upper_inf(m.validity)
      JOIN persons p ON p.id = m.person_id,
      unnest(p.name_words) AS w
      WHERE h.protected AND h.territory_code = :territory AND w <> ''
        AND EXISTS (
          SELECT 1 FROM accompaniments a
          WHERE a.household_id = h.id AND a.validity @> now()
            AND (a.user_id = :user_id OR a.organisation_id = :organisation_id))
    )"""
CLOSE_WORDS = text(_CLOSE_WORDS.format(accompanied="", nearest=_NEAREST, slipped=""))
CLOSE_WORDS_ACCOMPANYING = text(
    _CLOSE_WORDS.format(
        accompanied=_ACCOMPANIED,
        nearest=f"""
        SELECT c.word FROM (
          ({_NEAREST})
          UNION
          SELECT a.word FROM accompanied a WHERE a.word % t.word
        ) AS c
        ORDER BY similarity(c.word, t.word) DESC, c.word LIMIT :most
      """,
        slipped="""
      UNION
      SELECT s.typed, a.word FROM slips s JOIN accompanied a ON a.word = ANY (s.variants)""",
    )
)


async def _close_words(ctx: Context, viewer: Viewer, query: str) -> list[list[str]] | None:
    """For each word typed (particles aside), the words close to it among those of the
    persons the viewer may search; None when one of them is close to none of those (then
    only the full-name similarity can help).

    Threat stopped: an oracle through cost. The candidate words, hence the statements
    that follow and their plans, depend only on the names the viewer may search: a name
    borne only in another territory, or in a protected household the viewer does not
    accompany, costs what a name borne by nobody costs."""
    if viewer.relationship is Relationship.ACCOMPANYING:
        statement = CLOSE_WORDS_ACCOMPANYING.bindparams(
            query=query,
            most=CLOSE_MOST,
            territory=viewer.territory_code,
            user_id=viewer.user_id,
            organisation_id=viewer.organisation_id,
        )
    else:
        statement = CLOSE_WORDS.bindparams(
            query=query, most=CLOSE_MOST, territory=viewer.territory_code
        )
    rows = (await ctx.execute(statement)).all()
    asked = [r for r in rows if len(r.typed) > PARTICLE_MAX] or list(rows)
    if not asked or any(not r.close for r in asked):
        return None
    return [list(r.close) for r in asked]


# The deepest position a search cursor may hold (a bigint OFFSET takes more, but no one
# pages through a million results of a name search).
MAX_OFFSET = 1_000_000


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        position = int(base64.urlsafe_b64decode(after.encode()).decode())
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None
    # A position this service gave: never negative, and within what an OFFSET takes.
    if not 0 <= position <= MAX_OFFSET:
        raise bad_input("Malformed cursor in `after`.", field="after")
    return position


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


async def search_persons(
    ctx: Context,
    query: str,
    *,
    birth_date: date | None = None,
    birth_year: int | None = None,
    territory: str | None = None,
    first: int | None = None,
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
    first: int | None,
    after: str | None,
) -> ResolvedPage:
    viewer = ctx.authenticated
    if not viewer.may_search:
        raise CodedError(ErrorCode.FORBIDDEN, "You may not search persons.")
    first = check_first(first, ctx.settings)
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
        by_words = await _close_words(ctx, viewer, text)
    if birth_date is not None:
        if text:
            score = score + case((Person.birth_date == birth_date, 1.0), else_=0.0)
        else:
            conditions.append(Person.birth_date == birth_date)
    if birth_year is not None:
        conditions.append(extract("year", Person.birth_date) == birth_year)
    offset = _offset(after)

    def matching(*columns: Any) -> Select[Any]:
        """The searchable persons (current members of the territory's households the
        viewer may search) with these columns."""
        return (
            select(*columns)
            .select_from(Person)
            .join(
                Membership,
                and_(Membership.person_id == Person.id, func.upper_inf(Membership.validity)),
            )
            .join(Household, Household.id == Membership.household_id)
            .where(*conditions)
        )

    organisations = (
        select(func.array_agg(func.distinct(Organisation.name)))
        .select_from(Accompaniment)
        .join(Organisation, Organisation.id == Accompaniment.organisation_id)
        .where(
            Accompaniment.household_id == Household.id,
            Accompaniment.validity.contains(func.now()),  # as auth.scope.accompanied_by
            # Whom to call: not a partner service (an addiction service says too much).
            Accompaniment.role != AccompanimentRole.PARTNER_SERVICE,
        )
        .scalar_subquery()
    )

    def page(names: list[Any]) -> Select[Any]:
        return (
            matching(
                Person.first_name,
                Person.last_name,
                Person.usage_name,
                Person.birth_date,
                Person.sex,
                Household.reference,
                organisations.label("organisations"),
                score.label("score"),
            )
            .where(*names)
            .order_by(score.desc(), Person.last_name, Person.first_name, Person.id)
            .offset(offset)
            .limit(first + 1)
        )

    # The persons who have, for every word typed, a close word; when nobody has, those
    # whose full name is close to the query (the forgiving way). Which way, hence which
    # statements run, depends only on the persons the viewer may search: the close words
    # are theirs, and the words way is given up only when none of them has all the words.
    # (The word matches are a fixed set, so a later page is empty only when the first one
    # came from the forgiving way too.)
    by_name: list[Any] = [key.op("<%")(Person.name_key)] if text else []
    where = by_name
    rows: list[Any] = []
    if by_words is not None:
        where = [Person.name_words.overlap(literal(words, ARRAY(Text))) for words in by_words]
        rows = list((await ctx.execute(page(where))).all())
        if not rows:
            where = by_name
    if not rows:
        rows = list((await ctx.execute(page(where))).all())
    has_next = len(rows) > first
    rows = rows[:first]

    async def count() -> int:
        """Up to COUNT_CAP + 1 matches of the way the page came from; none on a first
        page: 0 (no statement)."""
        if not rows and offset == 0:
            return 0
        matches = matching(literal(1)).where(*where).limit(COUNT_CAP + 1).subquery()
        total = select(func.count()).select_from(matches)
        async with ctx.search_slot():
            return int((await ctx.execute(total)).scalar_one())

    return ResolvedPage(
        rows=rows,
        cursors=[_cursor(offset + i + 1) for i in range(len(rows))],
        has_next=has_next,
        count=count,
    )
