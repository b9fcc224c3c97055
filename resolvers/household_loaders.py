"""Loaders of households, persons and memberships, within the row scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    FromClause,
    Row,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from auth.scope import HouseholdScope, anchor_household
from models import Household, Membership, Person, Sex
from resolvers.loader_base import ManyLoader, ScopedByIdLoader, SqlLoader, many_per_key, one_per_key

households_t: Table = Household.__table__
persons_t: Table = Person.__table__
memberships_t: Table = Membership.__table__


class HouseholdByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    shows = "Household"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.id.in_(keys), self.ctx.scope.households(households_t)
        )
        return one_per_key(await self.rows(stmt), keys)


class HouseholdByReferenceLoader(SqlLoader[str, Row[Any] | None]):
    shows = "Household"

    async def load_batch(self, keys: list[str]) -> list[Row[Any] | None]:
        stmt = select(households_t).where(
            households_t.c.reference.in_(keys), self.ctx.scope.households(households_t)
        )
        rows = await self.rows(stmt)
        for row in rows:
            self.ctx.loaders.household_by_id.prime(row.id, row)
        return one_per_key(rows, keys, "reference")


# Aliases are immutable: made once, not for every statement (each proxies every column).
_LEFT = memberships_t.alias("left")
_ASKED = persons_t.alias("asked_person")

# The identity fields of a person, as `identity_at_end` keeps them (migration 0014).
IDENTITY_FIELDS = (
    "first_name",
    "last_name",
    "usage_name",
    "birth_date",
    "sex",
    "nationality",
    "phone",
    "version",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class SeenPerson:
    """A person as a viewer may see her through a household (`seen_persons`): her record
    now, or her identity as it was when she left (`as_of` set). Built from the one JSON
    value the SQL chose, so it never holds what the viewer may not see."""

    id: uuid.UUID
    merged_into_id: uuid.UUID | None
    first_name: str
    last_name: str
    usage_name: str | None
    birth_date: date | None
    sex: Sex
    nationality: str | None
    phone: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    as_of: datetime | None
    # the key it answers (the loaders' `one_per_key` / `many_per_key` read these)
    asked_id: uuid.UUID | None = None
    via_id: uuid.UUID | None = None
    record_id: uuid.UUID | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> SeenPerson:
        shown: dict[str, Any] = row.shown
        birth = shown.get("birth_date")
        return cls(
            id=row.id,
            merged_into_id=row.merged_into_id,
            first_name=shown["first_name"],
            last_name=shown["last_name"],
            usage_name=shown.get("usage_name"),
            birth_date=date.fromisoformat(birth) if birth else None,
            sex=Sex(shown["sex"]),
            nationality=shown.get("nationality"),
            phone=shown.get("phone"),
            version=int(shown["version"]),
            created_at=datetime.fromisoformat(shown["created_at"]),
            updated_at=datetime.fromisoformat(shown["updated_at"]),
            as_of=row.as_of,
            asked_id=getattr(row, "asked_id", None),
            via_id=getattr(row, "via_id", None),
            record_id=getattr(row, "record_id", None),
        )


def seen_persons(scope: HouseholdScope, source: FromClause, asked: Any, via: Any) -> Select[Any]:
    """The persons `asked` (a column of `source`) as this viewer may see them (rule PERSON
    of `auth.visibility`): her record now when her anchor household (now, or the last one)
    is visible; else, when she is reached through a household she left (`via`, a column of
    `source`) that is visible, her identity as it was when she left (`identity_at_end`),
    with `as_of` the instant she left; else no row. The id of a record merged into another
    answers the survivor.

    The row holds one JSON value `shown` (and `as_of`), chosen in SQL, so that it never
    carries values the viewer may not see; `SeenPerson.of` reads it. (One CASE over one
    value: building a CASE per field cost ~5 ms of Python per statement.)"""
    p, m = persons_t, _LEFT
    person = source.join(p, p.c.id == _survivor(asked))
    current = scope.persons(p.c.id)
    past = (
        select(m.c.identity_at_end.label("identity"), func.upper(m.c.validity).label("left_at"))
        .where(m.c.person_id == p.c.id, m.c.household_id == via, not_(func.upper_inf(m.c.validity)))
        .order_by(func.lower(m.c.validity).desc())
        .limit(1)
        .lateral("past")
    )
    # (The scope of `via` is checked out here, not inside the LATERAL: SQLAlchemy's linter
    # mistakes the scope's correlated EXISTS inside a LATERAL for a cartesian product.)
    left_visible = and_(past.c.identity.is_not(None), scope.contains(via))
    pairs: list[Any] = []
    for name in IDENTITY_FIELDS:
        pairs += [literal_column(f"'{name}'"), p.c[name]]
    now = func.jsonb_build_object(*pairs)
    inner = (
        select(
            p.c.id,
            p.c.merged_into_id,
            current.label("current"),
            now.label("now"),
            case((left_visible, past.c.identity)).label("identity"),
            past.c.left_at,
            *source.c,
        )
        .select_from(person.outerjoin(past, true()))
        # OFFSET 0 keeps PostgreSQL from folding this into the outer SELECT, where each
        # use of `current` below would run the scope's sub-plan again.
        .offset(0)
        .subquery("seen")
    )
    i = inner.c
    return select(
        i.id,
        i.merged_into_id,
        case((i.current, i.now), else_=i.identity).label("shown"),
        case((i.current, None), else_=i.left_at).label("as_of"),
        *[i[c.name] for c in source.c],
    ).where(or_(i.current, i.identity.is_not(None)))


def _survivor(asked: Any) -> Any:
    asked_person = _ASKED
    merged = (
        select(asked_person.c.merged_into_id).where(asked_person.c.id == asked).scalar_subquery()
    )
    return func.coalesce(merged, asked)


class PersonByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """A person by id (`node`, a search's pick, a summary's reference person): visible
    when her anchor household is (rule PERSON). The id of a record merged into another
    answers the survivor.

    The rule is evaluated on each id asked, before the persons are joined: the same probes
    run (the survivor, the anchor, the scope) whether the id names a person or nobody, so
    that a person out of scope costs about what a random id does (no timing oracle)."""

    shows = "Person"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        ids = postgresql.ARRAY(postgresql.UUID(as_uuid=True))
        asked = select(func.unnest(literal(list(dict.fromkeys(keys)), ids)).label("asked_id"))
        k = asked.subquery("k")
        survivors = select(k.c.asked_id, _survivor(k.c.asked_id).label("person_id")).subquery(
            "survivors"
        )
        p = persons_t
        stmt = (
            select(
                p.c.id,
                p.c.merged_into_id,
                *[p.c[name] for name in IDENTITY_FIELDS],
                literal(None, DateTime(timezone=True)).label("as_of"),
                survivors.c.asked_id,
            )
            .select_from(survivors.join(p, p.c.id == survivors.c.person_id))
            .where(self.ctx.scope.contains(anchor_household(survivors.c.person_id)))
        )
        return one_per_key(await self.rows(stmt), keys, "asked_id")


PersonInHousehold = tuple[uuid.UUID, uuid.UUID]


class PersonInHouseholdLoader(SqlLoader[PersonInHousehold, SeenPerson | None]):
    """A person reached through a household (a membership's member): her record now if her
    anchor household is visible, else, if that household is visible and she left it, her
    identity as it was then (rule PERSON)."""

    shows = "Person"

    async def load_batch(self, keys: list[PersonInHousehold]) -> list[SeenPerson | None]:
        unique = list(dict.fromkeys(keys))
        ids = postgresql.ARRAY(postgresql.UUID(as_uuid=True))
        k = select(
            func.unnest(literal([a for a, _ in unique], ids)).label("asked_id"),
            func.unnest(literal([v for _, v in unique], ids)).label("via_id"),
        ).subquery("k")
        stmt = seen_persons(self.ctx.scope, k, k.c.asked_id, k.c.via_id)
        seen = [SeenPerson.of(row) for row in await self.rows(stmt)]
        found = {(person.asked_id, person.via_id): person for person in seen}
        return [found.get(key) for key in keys]


class MembershipsByHouseholdIdLoader(ManyLoader[uuid.UUID]):
    """Every membership of each household, history included, oldest first."""

    shows = "Membership"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.household_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class MembershipsByPersonIdLoader(ManyLoader[uuid.UUID]):
    """A person's memberships in visible households, oldest first."""

    shows = "Membership"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        stmt = (
            select(memberships_t)
            .where(
                memberships_t.c.person_id.in_(keys),
                memberships_t.c.household_id.in_(self.ctx.scope.household_ids()),
            )
            .order_by(func.lower(memberships_t.c.validity), memberships_t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "person_id")


class MembershipByIdLoader(ScopedByIdLoader):
    shows = "Membership"
    table = memberships_t
