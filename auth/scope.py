"""Row scope: the one function that turns a viewer into the households it may see.

Threat stopped: a query path (list, nested field, `node`, search, mutation payload) that
forgets to filter and so serves households the viewer has no business seeing. Every
loader and query takes a `HouseholdScope`, which only `household_scope()` can build (the
constructor checks a private token), so forgetting the scope is a type error rather than
a leak. The predicate runs inside the SQL: an out-of-scope household reads as "not
found", never "forbidden".

Scopes (DOMAIN.md): a social worker sees the households they or their organisation
accompany now; a SIAO operator every household of their territory; a structure manager
the households oriented to or hosted by their structures (`oriented_to_or_hosted_by`); a
beneficiary their own current household; a partner the non-protected households of its
territory; an observer and an administrator none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    union_all,
)

from auth.policy import Relationship
from auth.viewer import Viewer
from models.household import Accompaniment, Household, Membership
from models.orientation import Orientation, OrientationStatus, Stay
from models.structure import Place

_TOKEN = object()
# Aliases are immutable: made once, not for every statement (each proxies every column).
_SCOPED = Household.__table__.alias("scoped")
_ANCHOR = Membership.__table__.alias("anchor")


class HouseholdScope:
    __slots__ = ("_viewer",)

    def __init__(self, token: object, viewer: Viewer) -> None:
        if token is not _TOKEN:
            raise TypeError("a HouseholdScope is built by auth.scope.household_scope() only")
        self._viewer = viewer

    def households(self, table: FromClause | type[Household] = Household) -> ColumnElement[bool]:
        """Predicate over a `households` table (or alias) in the caller's FROM clause."""
        h: Any = table.c if isinstance(table, FromClause) else table
        v = self._viewer
        relationship = v.relationship
        if relationship is Relationship.TERRITORY_SIAO and v.territory_code:
            predicate: ColumnElement[bool] = h.territory_code == v.territory_code
            return predicate
        if relationship is Relationship.ACCOMPANYING and v.user_id is not None:
            return accompanied_by(v, h.id)
        if relationship is Relationship.SELF and v.person_id is not None:
            own: ColumnElement[bool] = h.id.in_(
                select(Membership.household_id).where(
                    Membership.person_id == v.person_id, func.upper_inf(Membership.validity)
                )
            )
            return own
        if relationship is Relationship.PARTNER and v.territory_code:
            partner: ColumnElement[bool] = and_(
                h.territory_code == v.territory_code, h.protected.is_(False)
            )
            return partner
        if relationship is Relationship.ORIENTED_OR_HOSTING and v.organisation_id is not None:
            return oriented_to_or_hosted_by(v.organisation_id, h.id)
        return false()

    def allows_territory(self, code: str) -> bool:
        """May the viewer create households in this territory?"""
        return self._viewer.territory_code is not None and code == self._viewer.territory_code

    def household_ids(self) -> Select[Any]:
        """Subquery of visible household ids, for tables that reference a household."""
        return select(Household.id).where(self.households())

    def contains(self, household_id: Any) -> ColumnElement[bool]:
        """Predicate: the household (a column or an expression) is in the scope, as an
        EXISTS correlated on that one id: a primary-key probe then the scope's predicate on
        one row, wherever it stands (a select list, an OR), instead of `IN (visible ids)`,
        which PostgreSQL can only turn into a semi-join in a WHERE conjunction and
        otherwise hashes every household of the scope first (a territory's tens of
        thousands, for every statement)."""
        scoped = _SCOPED
        found: ColumnElement[bool] = exists().where(
            scoped.c.id == household_id, self.households(scoped)
        )
        return found

    def persons(self, person_id: Any) -> ColumnElement[bool]:
        """Predicate: the person (column) is seen through her anchor household, the one she
        belongs to now or the last one (`auth.visibility`, rule PERSON).

        Threat stopped: a person readable by whoever could see ANY household she ever
        belonged to (the household she fled reading the identity her new one gave her)."""
        return self.contains(anchor_household(person_id))


def anchor_household(person_id: Any) -> Any:
    """The household a person belongs to now, or the last one she belonged to: memberships
    of a person never overlap, so it is the one that started last."""
    m = _ANCHOR
    return (
        select(m.c.household_id)
        .where(m.c.person_id == person_id)
        .order_by(func.lower(m.c.validity).desc())
        .limit(1)
        # Correlated to the person wherever the caller's statement has her, however deep
        # this sits (auto-correlation looks one level up only, and would otherwise add a
        # FROM of its own: every person's latest membership).
        .correlate_except(m)
        .scalar_subquery()
    )


def accompanied_by(viewer: Viewer, household_id: Any) -> ColumnElement[bool]:
    """The household (column) is accompanied now by the viewer or their organisation.

    "Now" is the database's `now()`, the clock that recorded the accompaniments, not the
    request's instant (`Context.now`, which documents why)."""
    who = [Accompaniment.user_id == viewer.user_id]
    if viewer.organisation_id is not None:
        who.append(Accompaniment.organisation_id == viewer.organisation_id)
    return exists().where(
        Accompaniment.household_id == household_id,
        Accompaniment.validity.contains(func.now()),
        or_(*who),
    )


def oriented_to_or_hosted_by(structure_id: Any, household_id: Any) -> ColumnElement[bool]:
    """The household has an orientation waiting or accepted by the structure, or a current
    stay in it. Written as membership in one uncorrelated set (the structure's households,
    read through its places), not as EXISTS per household: PostgreSQL then computes the
    structure's few households once, instead of testing every household of the database
    against a hashed sub-plan. That also keeps a lookup by id as cheap for a row that
    exists out of scope as for one that does not exist (no timing oracle)."""
    places = select(Place.id).where(Place.organisation_id == structure_id)
    oriented = select(Orientation.household_id).where(
        Orientation.place_id.in_(places),
        Orientation.status.in_((OrientationStatus.PROPOSED, OrientationStatus.ACCEPTED)),
    )
    hosted = select(Stay.household_id).where(
        Stay.place_id.in_(places), func.upper_inf(Stay.validity)
    )
    found: ColumnElement[bool] = household_id.in_(union_all(oriented, hosted))
    return found


def household_scope(viewer: Viewer) -> HouseholdScope:
    return HouseholdScope(_TOKEN, viewer)
