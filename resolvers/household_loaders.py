"""Loaders of households, persons and memberships, within the row scope."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    FromClause,
    Integer,
    Row,
    Select,
    Table,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    values,
)
from sqlalchemy.dialects import postgresql

from auth.scope import HouseholdScope
from models import Household, Membership, Person
from resolvers.loader_base import ManyLoader, ScopedByIdLoader, SqlLoader, many_per_key, one_per_key

households_t: Table = Household.__table__  # type: ignore[assignment]
persons_t: Table = Person.__table__  # type: ignore[assignment]
memberships_t: Table = Membership.__table__  # type: ignore[assignment]


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


def seen_persons(
    scope: HouseholdScope, source: FromClause, asked: Any, via: Any | None
) -> Select[Any]:
    """The persons `asked` (a column of `source`) as this viewer may see them (rule PERSON
    of `auth.visibility`): her record now when her anchor household (now, or the last one)
    is visible; else, when she is reached through a household she left (`via`, a column of
    `source`) that is visible, her identity as it was when she left (`identity_at_end`),
    with `as_of` the instant she left; else no row. The choice is made in SQL, so a row
    never carries values the viewer may not see. The id of a record merged into another
    answers the survivor."""
    p, m = persons_t, memberships_t.alias("left")
    person = source.join(p, p.c.id == _survivor(asked))
    current = scope.persons(p.c.id)
    columns: list[Any] = [p.c.id, p.c.sex, p.c.merged_into_id]
    if via is None:
        stmt = select(*columns, *_NOW, literal(None, DateTime(timezone=True)).label("as_of"))
        return stmt.select_from(person).where(current)
    past = (
        select(m.c.identity_at_end.label("identity"), func.upper(m.c.validity).label("left_at"))
        .where(m.c.person_id == p.c.id, m.c.household_id == via, not_(func.upper_inf(m.c.validity)))
        .order_by(func.lower(m.c.validity).desc())
        .limit(1)
        .lateral("past")
    )
    # (The scope of `via` is checked out here, not inside the LATERAL: SQLAlchemy's linter
    # mistakes the scope's correlated EXISTS inside a LATERAL for a cartesian product.)
    left_visible = and_(past.c.identity.is_not(None), via.in_(scope.household_ids()))
    inner = (
        select(
            p,
            case((left_visible, past.c.identity)).label("identity"),
            past.c.left_at,
            current.label("current"),
            *source.c,
        )
        .select_from(person.outerjoin(past, true()))
        .subquery("seen")
    )
    i = inner.c
    then_ = i.identity

    def pick(name: str, type_: Any) -> Any:
        return case((i.current, i[name]), else_=cast(then_[name].astext, type_)).label(name)

    return select(
        i.id,
        i.merged_into_id,
        case((i.current, i.sex), else_=cast(then_["sex"].astext, persons_t.c.sex.type)).label(
            "sex"
        ),
        pick("first_name", Text()),
        pick("last_name", Text()),
        pick("usage_name", Text()),
        pick("birth_date", Date()),
        pick("nationality", Text()),
        pick("phone", Text()),
        pick("version", Integer()),
        pick("created_at", DateTime(timezone=True)),
        pick("updated_at", DateTime(timezone=True)),
        case((i.current, None), else_=i.left_at).label("as_of"),
        *[i[c.name] for c in source.c],
    ).where(or_(i.current, i.identity.is_not(None)))


_NOW = [
    persons_t.c[name]
    for name in (
        "first_name",
        "last_name",
        "usage_name",
        "birth_date",
        "nationality",
        "phone",
        "version",
        "created_at",
        "updated_at",
    )
]


def _survivor(asked: Any) -> Any:
    asked_person = persons_t.alias("asked_person")
    merged = (
        select(asked_person.c.merged_into_id).where(asked_person.c.id == asked).scalar_subquery()
    )
    return func.coalesce(merged, asked)


class PersonByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    """A person by id (`node`, a search's pick, a summary's reference person): visible
    when her anchor household is (rule PERSON). The id of a record merged into another
    answers the survivor."""

    shows = "Person"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        asked = select(persons_t.c.id.label("asked_id")).where(persons_t.c.id.in_(keys))
        source = asked.subquery("asked")
        stmt = seen_persons(self.ctx.scope, source, source.c.asked_id, None).add_columns(
            source.c.asked_id
        )
        return one_per_key(await self.rows(stmt), keys, "asked_id")


PersonInHousehold = tuple[uuid.UUID, uuid.UUID]


class PersonInHouseholdLoader(SqlLoader[PersonInHousehold, Row[Any] | None]):
    """A person reached through a household (a membership's member): her record now if her
    anchor household is visible, else, if that household is visible and she left it, her
    identity as it was then (rule PERSON)."""

    shows = "Person"

    async def load_batch(self, keys: list[PersonInHousehold]) -> list[Row[Any] | None]:
        k = (
            values(
                column("asked_id", postgresql.UUID(as_uuid=True)),
                column("via_id", postgresql.UUID(as_uuid=True)),
                name="k",
            )
            .data(list(dict.fromkeys(keys)))
            .alias("k")
        )
        stmt = seen_persons(self.ctx.scope, k, k.c.asked_id, k.c.via_id)
        found = {(row.asked_id, row.via_id): row for row in await self.rows(stmt)}
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
