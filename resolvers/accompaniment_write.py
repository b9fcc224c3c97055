"""Accompaniments: start (the territory's SIAO assigns an organisation), transfer (to another
organisation by the SIAO, or to another referent of the same organisation by its own
social worker) and end (the SIAO, or a social worker of the accompanying organisation).

Each runs in one transaction with its audit events, under the household's lock (so two
concurrent starts for the same organisation are serialised: the second sees the first
and answers ALREADY_ACCOMPANIED; the exclusion constraint `accompaniment_no_overlap`
stands behind it). The row scope follows at once: an accompaniment ended here no longer
opens the household to its organisation, in this very request's answer already
(`auth.scope.accompanied_by` reads the database's `now()`, later than the end recorded).

A social worker does not start an accompaniment for their own organisation here: that
goes through an access request that the household's followers or the SIAO grant
(ACCESS_REQUEST_REQUIRED, answered before any SQL, whether the household exists or not).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import ROLE_RELATIONSHIP, Relationship
from models import Accompaniment, AccompanimentEndReason, AccompanimentRole, Household
from models.household import END_COMMENT_MAX
from models.organisation import Organisation, OrganisationKind, User
from resolvers import audit
from resolvers.context import Context
from resolvers.validation import clean_text, text_problem
from resolvers.writes import Problem, Refused, bump_activity, lock_household, write_instant


class AccompanimentErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    ACCESS_REQUEST_REQUIRED = "ACCESS_REQUEST_REQUIRED"
    TRANSFER_BY_SIAO_ONLY = "TRANSFER_BY_SIAO_ONLY"
    NOT_YOUR_ORGANISATION = "NOT_YOUR_ORGANISATION"
    OTHER_TERRITORY = "OTHER_TERRITORY"
    REFERENT_NOT_IN_ORGANISATION = "REFERENT_NOT_IN_ORGANISATION"
    ROLE_NOT_FOR_ORGANISATION = "ROLE_NOT_FOR_ORGANISATION"
    ALREADY_ACCOMPANIED = "ALREADY_ACCOMPANIED"
    ALREADY_ENDED = "ALREADY_ENDED"
    INVALID_COMMENT = "INVALID_COMMENT"
    INVALID_INPUT = "INVALID_INPUT"


Code = AccompanimentErrorCode


@dataclass
class Written:
    household_id: uuid.UUID | None = None
    ended_id: uuid.UUID | None = None
    started_id: uuid.UUID | None = None
    problems: list[Problem] = field(default_factory=list)


def _siao(ctx: Context) -> bool:
    return ctx.authenticated.relationship is Relationship.TERRITORY_SIAO


def _comment_problem(comment: str | None, path: str) -> list[Problem]:
    problem = text_problem(comment, max_length=END_COMMENT_MAX, required=False)
    return [Problem(Code.INVALID_COMMENT, f"{path} {problem}.", [path])] if problem else []


def _values(row: Accompaniment) -> dict[str, Any]:
    return {
        "organisation": row.organisation_id,
        "user": row.user_id,
        "role": row.role,
        "validFrom": row.validity.lower,
    }


# Which kinds of organisation may take each role: a path referent is a social service or
# an association; a hosting structure is a structure; a partner service may also be an
# administration. (Not a SIAO, which sees its territory anyway, nor a structure as a
# referent: its managers' scope is the orientations and stays, not accompaniments.)
ROLE_KINDS: dict[AccompanimentRole, frozenset[OrganisationKind]] = {
    AccompanimentRole.PATH_REFERENT: frozenset(
        {OrganisationKind.ASSOCIATION, OrganisationKind.SOCIAL_SERVICE}
    ),
    AccompanimentRole.HOSTING_STRUCTURE: frozenset({OrganisationKind.STRUCTURE}),
    AccompanimentRole.PARTNER_SERVICE: frozenset(
        {
            OrganisationKind.ASSOCIATION,
            OrganisationKind.SOCIAL_SERVICE,
            OrganisationKind.ADMINISTRATION,
        }
    ),
}


async def _organisation(
    session: AsyncSession,
    household: Household,
    organisation_id: uuid.UUID,
    role: AccompanimentRole,
    path: str,
) -> None:
    """Refuses an organisation that is not of the household's territory: one of another
    territory, or none (one statement, one answer, as `WRONG_PLACE` for places); then one
    whose kind cannot take the role (`ROLE_KINDS`)."""
    kind = await session.scalar(
        select(Organisation.kind).where(
            Organisation.id == organisation_id,
            Organisation.territory_code == household.territory_code,
        )
    )
    if kind is None:
        raise Refused(
            Problem(
                Code.OTHER_TERRITORY,
                "No organisation of the household's territory has this id: only "
                "organisations of its territory may accompany it.",
                [path],
            )
        )
    if kind not in ROLE_KINDS[role]:
        allowed = ", ".join(sorted(k.value for k in ROLE_KINDS[role]))
        raise Refused(
            Problem(
                Code.ROLE_NOT_FOR_ORGANISATION,
                f"A {kind.value} organisation cannot be {role.value}: only {allowed}.",
                [path],
            )
        )


async def _check_referent(
    session: AsyncSession, referent_id: uuid.UUID | None, organisation_id: uuid.UUID, path: str
) -> None:
    """A named referent is an active user of the organisation whose role accompanies
    households (a social worker), not, say, a structure's manager."""
    if referent_id is None:
        return
    role = await session.scalar(
        select(User.role).where(
            User.id == referent_id,
            User.organisation_id == organisation_id,
            User.active.is_(True),
        )
    )
    if role is None or ROLE_RELATIONSHIP[role] is not Relationship.ACCOMPANYING:
        raise Refused(
            Problem(
                Code.REFERENT_NOT_IN_ORGANISATION,
                "The named referent is not an active social worker of the organisation.",
                [path],
            )
        )


async def _check_free(
    session: AsyncSession, household_id: uuid.UUID, organisation_id: uuid.UUID, at: datetime
) -> None:
    """Refuses a second accompaniment of the organisation overlapping `[at, ∞)`."""
    taken = await session.scalar(
        select(Accompaniment.id).where(
            Accompaniment.household_id == household_id,
            Accompaniment.organisation_id == organisation_id,
            Accompaniment.validity.overlaps(
                Range(at, None, bounds="[)"),
            ),
        )
    )
    if taken is not None:
        raise Refused(_already())


def _already() -> Problem:
    return Problem(
        Code.ALREADY_ACCOMPANIED,
        "The organisation already accompanies the household.",
        ["organisationId"],
    )


Follower = tuple[uuid.UUID | None, uuid.UUID | None]  # (user, organisation)


def accompany(
    session: AsyncSession,
    ctx: Context,
    household: Household,
    follower: Follower,
    at: datetime,
    until: datetime | None = None,
    role: AccompanimentRole = AccompanimentRole.PATH_REFERENT,
) -> Accompaniment:
    """Adds an accompaniment from `at` (to `until`) and its ACCOMPANY event: the one way
    one is written (a start here, a household's creation or a move's carry-over)."""
    user_id, organisation_id = follower
    row = Accompaniment(
        id=uuid.uuid4(),
        household_id=household.id,
        user_id=user_id,
        organisation_id=organisation_id,
        validity=Range(at, until, bounds="[)"),
        created_at=at,
        role=role,
        started_by=ctx.authenticated.user_id,
    )
    session.add(row)
    audit.record(
        session,
        ctx,
        at=at,
        action="ACCOMPANY",
        entity_type="Accompaniment",
        entity_id=row.id,
        household_id=household.id,
        changes=audit.field_changes({}, _values(row)),
    )
    return row


async def _start(
    session: AsyncSession,
    ctx: Context,
    household: Household,
    organisation_id: uuid.UUID,
    referent_id: uuid.UUID | None,
    role: AccompanimentRole,
    at: datetime,
) -> Accompaniment:
    await _check_free(session, household.id, organisation_id, at)
    row = accompany(session, ctx, household, (referent_id, organisation_id), at, role=role)
    try:
        await session.flush()
    except IntegrityError:  # accompaniment_no_overlap: a concurrent start won
        raise Refused(_already()) from None
    return row


async def start_accompaniment(
    ctx: Context,
    household_id: uuid.UUID,
    organisation_id: uuid.UUID,
    referent_id: uuid.UUID | None,
    role: AccompanimentRole,
) -> Written:
    if not _siao(ctx):
        return Written(
            problems=[
                Problem(
                    Code.ACCESS_REQUEST_REQUIRED,
                    "Only the territory's SIAO assigns an accompaniment; a social worker asks "
                    "for access to a household (an access request), which its followers or "
                    "the SIAO grant.",
                    ["householdId"],
                )
            ]
        )
    try:
        async with ctx.transaction() as session:
            household = await lock_household(session, ctx, household_id, ["householdId"])
            if household.closed_at is not None:
                raise Refused(
                    Problem(Code.HOUSEHOLD_CLOSED, "The household is closed.", ["householdId"])
                )
            await _organisation(session, household, organisation_id, role, "organisationId")
            await _check_referent(session, referent_id, organisation_id, "referentUserId")
            at = await write_instant(session)
            row = await _start(session, ctx, household, organisation_id, referent_id, role, at)
            await bump_activity(session, household.id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(household_id=household.id, started_id=row.id)


async def _locked(
    session: AsyncSession, ctx: Context, accompaniment_id: uuid.UUID
) -> tuple[Household, Accompaniment]:
    """The accompaniment and its household (locked first), if the viewer sees the
    household; NOT_FOUND otherwise, the same for one that does not exist."""
    household_id = await session.scalar(
        select(Accompaniment.household_id).where(
            Accompaniment.id == accompaniment_id,
            Accompaniment.household_id.in_(ctx.scope.household_ids()),
        )
    )
    if household_id is None:
        raise Refused(Problem(Code.NOT_FOUND, "No such accompaniment.", ["accompanimentId"]))
    household = await lock_household(session, ctx, household_id, ["accompanimentId"])
    row = await session.scalar(
        select(Accompaniment).where(Accompaniment.id == accompaniment_id).with_for_update()
    )
    assert row is not None  # accompaniments are never deleted
    return household, row


def _check_own(ctx: Context, row: Accompaniment) -> None:
    """The SIAO of the territory (its scope holds the household), or a social worker of
    the accompanying organisation (or its named referent)."""
    if _siao(ctx):
        return
    viewer = ctx.authenticated
    own = (row.organisation_id is not None and row.organisation_id == viewer.organisation_id) or (
        row.user_id is not None and row.user_id == viewer.user_id
    )
    if not own:
        raise Refused(
            Problem(
                Code.NOT_YOUR_ORGANISATION,
                "Only the territory's SIAO or the accompanying organisation may change this "
                "accompaniment.",
                ["accompanimentId"],
            )
        )


def _check_lasting(row: Accompaniment, at: datetime) -> None:
    upper = row.validity.upper
    if row.end_reason is not None or (upper is not None and upper <= at):
        raise Refused(
            Problem(Code.ALREADY_ENDED, "The accompaniment has already ended.", ["accompanimentId"])
        )


def _end(
    session: AsyncSession,
    ctx: Context,
    row: Accompaniment,
    reason: AccompanimentEndReason,
    comment: str | None,
    at: datetime,
) -> None:
    row.validity = Range(row.validity.lower, at, bounds="[)")
    row.end_reason = reason
    row.end_comment = clean_text(comment) if comment else None
    row.ended_by = ctx.authenticated.user_id
    after: dict[str, Any] = {"validTo": at, "endReason": reason}
    if row.end_comment is not None:
        after["endComment"] = row.end_comment
    audit.record(
        session,
        ctx,
        at=at,
        action="END_ACCOMPANIMENT",
        entity_type="Accompaniment",
        entity_id=row.id,
        household_id=row.household_id,
        changes=audit.field_changes({}, after),
    )


async def end_accompaniment(
    ctx: Context,
    accompaniment_id: uuid.UUID,
    reason: AccompanimentEndReason,
    comment: str | None,
) -> Written:
    problems = _comment_problem(comment, "comment")
    if reason is AccompanimentEndReason.TRANSFERRED:
        problems.append(
            Problem(
                Code.INVALID_INPUT,
                "An accompaniment is transferred with `transferAccompaniment`.",
                ["reason"],
            )
        )
    if problems:
        return Written(problems=problems)
    try:
        async with ctx.transaction() as session:
            household, row = await _locked(session, ctx, accompaniment_id)
            _check_own(ctx, row)
            at = await write_instant(session)
            _check_lasting(row, at)
            _end(session, ctx, row, reason, comment, at)
            await session.flush()
            await bump_activity(session, household.id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(household_id=household.id, ended_id=accompaniment_id)


async def transfer_accompaniment(
    ctx: Context,
    accompaniment_id: uuid.UUID,
    to_organisation_id: uuid.UUID,
    to_referent_id: uuid.UUID | None,
    reason: str | None,
) -> Written:
    problems = _comment_problem(reason, "reason")
    if problems:
        return Written(problems=problems)
    try:
        async with ctx.transaction() as session:
            household, row = await _locked(session, ctx, accompaniment_id)
            _check_own(ctx, row)
            if not _siao(ctx) and to_organisation_id != row.organisation_id:
                raise Refused(
                    Problem(
                        Code.TRANSFER_BY_SIAO_ONLY,
                        "Only the territory's SIAO moves an accompaniment to another "
                        "organisation; you may name another referent of yours.",
                        ["toOrganisationId"],
                    )
                )
            if to_organisation_id == row.organisation_id and to_referent_id == row.user_id:
                raise Refused(
                    Problem(
                        Code.INVALID_INPUT,
                        "The accompaniment already has this organisation and referent.",
                        ["toReferentUserId"],
                    )
                )
            if household.closed_at is not None:
                raise Refused(
                    Problem(Code.HOUSEHOLD_CLOSED, "The household is closed.", ["accompanimentId"])
                )
            await _organisation(
                session, household, to_organisation_id, row.role, "toOrganisationId"
            )
            await _check_referent(session, to_referent_id, to_organisation_id, "toReferentUserId")
            at = await write_instant(session)
            _check_lasting(row, at)
            _end(session, ctx, row, AccompanimentEndReason.TRANSFERRED, reason, at)
            await session.flush()
            started = await _start(
                session, ctx, household, to_organisation_id, to_referent_id, row.role, at
            )
            await bump_activity(session, household.id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(household_id=household.id, ended_id=row.id, started_id=started.id)
