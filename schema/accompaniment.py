"""Accompaniments (who follows a household: référent de parcours, structure d'hébergement,
partner service), and their mutations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from models import AccompanimentEndReason as _EndReason
from models import AccompanimentRole as _Role
from resolvers import accompaniment as resolve
from resolvers import accompaniment_write as write
from resolvers import organisation as organisations
from resolvers.household import household as load_household
from resolvers.loaders import Later, then
from schema.enums import AccompanimentEndReason, AccompanimentRole, to_schema
from schema.errors import AccompanimentUserError, user_errors
from schema.info import Info
from schema.node import Node, decode_uuid, encode_id
from schema.organisation import Organisation, User, organisation_from_row, user_from_row
from schema.permissions import sensitive, writes

if TYPE_CHECKING:
    from schema.household import Household

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]


@strawberry.type(
    description="An organisation (and possibly a named referent) following a household over "
    "a period: a dated fact, ended, never erased. While it lasts, the organisation's social "
    "workers see the household; from its end, they see nothing of it any more (not even "
    "its past), and the household's change log keeps who followed it when."
)
class Accompaniment(Node):
    role: AccompanimentRole | None = sensitive(
        Category.ACCOMPANIMENTS, "What the organisation is to the household."
    )
    since: datetime = strawberry.field(description="When it started.")
    until: datetime | None = strawberry.field(
        description="When it ended (or is planned to end); null while it lasts with no end set."
    )
    is_current: bool = strawberry.field(description="Whether it lasts now.")
    end_reason: AccompanimentEndReason | None = sensitive(
        Category.ACCOMPANIMENTS, "Why it ended; null while it lasts."
    )
    end_comment: str | None = sensitive(
        Category.NOTES, "What the professional who ended (or transferred) it wrote about it."
    )
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]
    organisation_id: strawberry.Private[uuid.UUID | None]
    referent_id: strawberry.Private[uuid.UUID | None]
    started_by_id: strawberry.Private[uuid.UUID | None]
    ended_by_id: strawberry.Private[uuid.UUID | None]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @sensitive(Category.ACCOMPANIMENTS, "The accompanying organisation.")
    def organisation(self, info: Info) -> Later[Organisation | None]:
        if self.organisation_id is None:
            return None
        return then(
            organisations.organisation(info.context, self.organisation_id), organisation_from_row
        )

    @sensitive(
        Category.ACCOMPANIMENTS,
        "The named referent (a professional of the organisation); null if none is named.",
    )
    def referent(self, info: Info) -> Later[User | None]:
        if self.referent_id is None:
            return None
        return then(organisations.user(info.context, self.referent_id), user_from_row)

    @strawberry.field(description="Who started it.")
    def started_by(self, info: Info) -> Later[User | None]:
        if self.started_by_id is None:
            return None
        return then(organisations.user(info.context, self.started_by_id), user_from_row)

    @strawberry.field(description="Who ended it; null while it lasts.")
    def ended_by(self, info: Info) -> Later[User | None]:
        if self.ended_by_id is None:
            return None
        return then(organisations.user(info.context, self.ended_by_id), user_from_row)

    @strawberry.field(description="The household it follows.")
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        from schema.household import household_from_row

        return then(load_household(info.context, self.household_id), household_from_row)


def accompaniment_from_row(row: Row[Any] | None) -> Accompaniment | None:
    if row is None:
        return None
    return Accompaniment(
        id=encode_id("Accompaniment", row.id),
        role=to_schema(AccompanimentRole, row.role),
        since=row.validity.lower,
        until=row.validity.upper,
        is_current=bool(row.is_current),
        end_reason=to_schema(AccompanimentEndReason, row.end_reason) if row.end_reason else None,
        end_comment=row.end_comment,
        row_id=row.id,
        household_id=row.household_id,
        organisation_id=row.organisation_id,
        referent_id=row.user_id,
        started_by_id=row.started_by,
        ended_by_id=row.ended_by,
    )


def accompaniments_from_rows(rows: list[Row[Any]]) -> list[Accompaniment]:
    return [a for a in (accompaniment_from_row(row) for row in rows) if a is not None]


def _value(member: Any) -> str:
    value = member.value
    return str(getattr(value, "value", value))


@strawberry.input(description="The SIAO assigns an organisation to follow a household.")
class StartAccompanimentInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    organisation_id: strawberry.ID = strawberry.field(
        description="The organisation that will follow it (of the household's territory)."
    )
    role: AccompanimentRole = strawberry.field(
        description="What the organisation is to the household."
    )
    referent_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A named referent: an active user of that organisation."
    )


@strawberry.input(
    description="End an accompaniment and start another in one step (same role): to another "
    "organisation (the SIAO), or to another referent of the same organisation."
)
class TransferAccompanimentInput:
    accompaniment_id: strawberry.ID = strawberry.field(description="The accompaniment.")
    to_organisation_id: strawberry.ID = strawberry.field(
        description="The organisation that follows the household from now on."
    )
    to_referent_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its named referent, if any (an active user of it)."
    )
    reason: str | None = strawberry.field(
        default=None,
        description="Why, in a few words (kept as the ended one's comment; at most 2,000 "
        "characters).",
    )


@strawberry.input(description="End an accompaniment now.")
class EndAccompanimentInput:
    accompaniment_id: strawberry.ID = strawberry.field(description="The accompaniment.")
    reason: AccompanimentEndReason = strawberry.field(
        description="Why it ends (TRANSFERRED: use `transferAccompaniment`)."
    )
    comment: str | None = strawberry.field(
        default=None, description="A comment, at most 2,000 characters."
    )


def _accompaniment(info: Info, row_id: uuid.UUID | None) -> Later[Accompaniment | None]:
    if row_id is None:
        return None
    return then(resolve.accompaniment(info.context, row_id), accompaniment_from_row)


def _household(info: Info, household_id: uuid.UUID | None) -> Later[HouseholdRef | None]:
    from schema.household import household_from_row

    if household_id is None:
        return None
    return then(load_household(info.context, household_id), household_from_row)


@strawberry.type(description="Result of `startAccompaniment` and `endAccompaniment`.")
class AccompanimentPayload:
    user_errors: list[AccompanimentUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    accompaniment_id: strawberry.Private[uuid.UUID | None]
    household_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="The accompaniment as it is now; null if refused, or if you no longer "
        "see its household (you ended your organisation's last accompaniment of it)."
    )
    def accompaniment(self, info: Info) -> Later[Accompaniment | None]:
        return _accompaniment(info, self.accompaniment_id)

    @strawberry.field(description="The household; null if refused, or if you no longer see it.")
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        return _household(info, self.household_id)


@strawberry.type(description="Result of `transferAccompaniment`.")
class TransferAccompanimentPayload:
    user_errors: list[AccompanimentUserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )
    ended_id: strawberry.Private[uuid.UUID | None]
    started_id: strawberry.Private[uuid.UUID | None]
    household_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The accompaniment that ended (reason TRANSFERRED).")
    def ended(self, info: Info) -> Later[Accompaniment | None]:
        return _accompaniment(info, self.ended_id)

    @strawberry.field(description="The accompaniment that started in its place.")
    def started(self, info: Info) -> Later[Accompaniment | None]:
        return _accompaniment(info, self.started_id)

    @strawberry.field(description="The household; null if refused, or if you no longer see it.")
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        return _household(info, self.household_id)


def _payload(written: write.Written, row_id: uuid.UUID | None) -> AccompanimentPayload:
    failed = bool(written.problems)
    return AccompanimentPayload(
        user_errors=user_errors(AccompanimentUserError, written.problems),
        accompaniment_id=None if failed else row_id,
        household_id=None if failed else written.household_id,
    )


def _optional(global_id: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    return None if global_id is None else decode_uuid(global_id, type_name)


@strawberry.type
class AccompanimentMutations:
    @writes(
        Category.ACCOMPANIMENTS,
        "Assign an organisation (and possibly a named referent) to follow a household from "
        "now on: for the territory's SIAO (a social worker asks for access instead: "
        "ACCESS_REQUEST_REQUIRED). Its social workers see the household at once.",
    )
    async def start_accompaniment(
        self,
        info: Info,
        input: Annotated[StartAccompanimentInput, strawberry.argument(description="Who, whom.")],
    ) -> AccompanimentPayload:
        written = await write.start_accompaniment(
            info.context,
            decode_uuid(input.household_id, "Household"),
            decode_uuid(input.organisation_id, "Organisation"),
            _optional(input.referent_user_id, "User"),
            _Role(_value(input.role)),
        )
        return _payload(written, written.started_id)

    @writes(
        Category.ACCOMPANIMENTS,
        "End an accompaniment and start another (same role) in one transaction: to another "
        "organisation of the territory (the territory's SIAO), or to another referent of the "
        "same organisation (also its own social workers). Access moves in the same instant.",
    )
    async def transfer_accompaniment(
        self,
        info: Info,
        input: Annotated[TransferAccompanimentInput, strawberry.argument(description="To whom.")],
    ) -> TransferAccompanimentPayload:
        written = await write.transfer_accompaniment(
            info.context,
            decode_uuid(input.accompaniment_id, "Accompaniment"),
            decode_uuid(input.to_organisation_id, "Organisation"),
            _optional(input.to_referent_user_id, "User"),
            input.reason,
        )
        failed = bool(written.problems)
        return TransferAccompanimentPayload(
            user_errors=user_errors(AccompanimentUserError, written.problems),
            ended_id=None if failed else written.ended_id,
            started_id=None if failed else written.started_id,
            household_id=None if failed else written.household_id,
        )

    @writes(
        Category.ACCOMPANIMENTS,
        "End an accompaniment now (the territory's SIAO, or a social worker of the "
        "accompanying organisation). Its organisation stops seeing the household at once, "
        "its past included, unless it accompanies it otherwise.",
    )
    async def end_accompaniment(
        self,
        info: Info,
        input: Annotated[EndAccompanimentInput, strawberry.argument(description="Which, why.")],
    ) -> AccompanimentPayload:
        written = await write.end_accompaniment(
            info.context,
            decode_uuid(input.accompaniment_id, "Accompaniment"),
            _EndReason(_value(input.reason)),
            input.comment,
        )
        return _payload(written, written.ended_id)
