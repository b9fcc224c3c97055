"""User errors of mutations (business refusals) and the masking of everything else."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors
from strawberry.scalars import JSON

from resolvers.accompaniment_write import AccompanimentErrorCode as _AccompanimentErrorCode
from resolvers.demand_write import DemandErrorCode as _DemandErrorCode
from resolvers.errors import (
    CodedError,
    ErrorCode,
    database_unavailable,
    failure_chain,
    request_id_var,
)
from resolvers.evaluation_write import EvaluationErrorCode as _EvaluationErrorCode
from resolvers.household_write import HouseholdErrorCode as _HouseholdErrorCode
from resolvers.loaders import Later, then
from resolvers.note_write import NoteErrorCode as _NoteErrorCode
from resolvers.person_write import PersonErrorCode as _PersonErrorCode
from resolvers.situation_patch import SituationErrorCode as _SituationErrorCode
from resolvers.writes import Problem
from schema.enums import DemandStatus, described_enum, to_schema
from schema.info import Info
from schema.organisation import User, user_from_row

log = logging.getLogger("siao.errors")

_COMMON = {
    "NOT_FOUND": "The record does not exist, or is not visible to you.",
    "STALE_VERSION": "Someone saved a change since you read the record; `currentVersion` "
    "tells the version to reload.",
    "INVALID_NAME": "A name is blank, too long, or contains control characters.",
    "INVALID_BIRTH_DATE": "The birth date is in the future or before 1900.",
    "HOUSEHOLD_CLOSED": "The household has no members left and takes no more changes.",
}


def _descriptions(enum: Any, own: dict[str, str]) -> dict[Any, str]:
    merged = {**_COMMON, **own}
    return {member: merged[member.name] for member in enum}


if TYPE_CHECKING:
    HouseholdErrorCode = _HouseholdErrorCode
    PersonErrorCode = _PersonErrorCode
    DemandErrorCode = _DemandErrorCode
    EvaluationErrorCode = _EvaluationErrorCode
    NoteErrorCode = _NoteErrorCode
    SituationErrorCode = _SituationErrorCode
    AccompanimentErrorCode = _AccompanimentErrorCode
else:
    HouseholdErrorCode = described_enum(
        _HouseholdErrorCode,
        "Why a household mutation was refused.",
        _descriptions(
            _HouseholdErrorCode,
            {
                "UNKNOWN_TERRITORY": "No territory has this code.",
                "TERRITORY_OUT_OF_SCOPE": "You may not create households in this territory.",
                "NO_MEMBERS": "A household needs at least one member.",
                "ONE_REFERENCE_PERSON": "A household has exactly one REFERENCE_PERSON.",
                "ALREADY_IN_HOUSEHOLD": "The person is in another household: move them instead.",
                "SAME_HOUSEHOLD": "The person is already a member of this household.",
                "INVALID_INPUT": "The input is inconsistent (see `message`).",
                "INVALID_REASON": "The reason is blank, too long, or contains control characters.",
                "DEMAND_ENDED": "The demand is closed, cancelled or unmet: its priority no "
                "longer orders anything; `currentStatus` tells which.",
            },
        ),
    )
    PersonErrorCode = described_enum(
        _PersonErrorCode, "Why `updatePerson` was refused.", _descriptions(_PersonErrorCode, {})
    )
    DemandErrorCode = described_enum(
        _DemandErrorCode,
        "Why a demand mutation was refused.",
        _descriptions(
            _DemandErrorCode,
            {
                "NOT_A_MEMBER": "A concerned person is not a current member of the household.",
                "NO_CONCERNED_PERSON": "A demand concerns at least one member.",
                "INVALID_TRANSITION": "The demand's status does not allow this action; "
                "`currentStatus` tells where it stands.",
                "NO_VACANCY": "No vacancy is left in these places (someone took the last one).",
                "WRONG_PLACE": "No such place in a structure of the household's territory.",
                "INVALID_INPUT": "The input is inconsistent (see `message`).",
                "INVALID_REASON": "The reason is blank, too long, or contains control characters.",
                "DEMAND_ENDED": "The demand is closed, cancelled or unmet: its priority no "
                "longer orders anything; `currentStatus` tells which.",
            },
        ),
    )
    EvaluationErrorCode = described_enum(
        _EvaluationErrorCode,
        "Why `recordEvaluation` was refused.",
        _descriptions(
            _EvaluationErrorCode,
            {
                "INVALID_LEVEL": "A flash evaluation needs a vulnerability level from 1 to 4.",
                "INVALID_SECTIONS": "The deep evaluation's sections are not a JSON object of "
                "known section keys and texts, or are all empty (`field` names the section).",
                "INVALID_INPUT": "A field of the other kind of evaluation was given.",
            },
        ),
    )
    NoteErrorCode = described_enum(
        _NoteErrorCode,
        "Why a note mutation was refused.",
        _descriptions(
            _NoteErrorCode,
            {
                "NOT_FOUND": "The note (or its household) does not exist, was deleted, or is "
                "not visible to you.",
                "NOT_AUTHOR": "Only the note's author may edit or delete it.",
                "NOT_A_MEMBER": "A concerned person is not a current member of the household.",
                "INVALID_TITLE": "The title is blank, longer than 200 characters, on several "
                "lines, or contains control characters.",
                "INVALID_BODY": "The text is blank, longer than 20,000 characters, or contains "
                "control characters.",
                "INVALID_PIN_DATE": "`until` is not in the future, is more than 366 days "
                "away, or has no time zone.",
            },
        ),
    )

    SituationErrorCode = described_enum(
        _SituationErrorCode,
        "Why `updateHouseholdSituation` was refused.",
        _descriptions(
            _SituationErrorCode,
            {
                "STALE_VERSION": "Someone saved this section since you read it: nothing was "
                "overwritten; `changesSince` lists what they changed and `currentVersion` "
                "is the version to save against once you have merged.",
                "NOT_A_MEMBER": "The person is not a current member of the household.",
                "PERSON_REQUIRED": "Activity, administrative and medico-social sections are "
                "kept per person: give `personId`.",
                "PERSON_NOT_EXPECTED": "This section is the household's: give no `personId`.",
                "INVALID_SOCIAL_HOUSING_NUMBER": "Not a national register (SNE) number: 18 "
                "characters, département, year and month of application (not in the "
                "future), then 11 digits or capital letters.",
                "INVALID_DATE": "A date is before 1900, in the future where it cannot be, or "
                "more than 30 years ahead.",
                "INVALID_AMOUNT": "An amount is negative, above 1,000,000 euros, or has more "
                "than 2 decimals.",
                "INVALID_TEXT": "A text is too long or contains control characters.",
                "INVALID_INPUT": "The input is inconsistent (see `message`).",
                "INVALID_REASON": "The reason is blank, too long, or contains control characters.",
                "DEMAND_ENDED": "The demand is closed, cancelled or unmet: its priority no "
                "longer orders anything; `currentStatus` tells which.",
            },
        ),
    )

    AccompanimentErrorCode = described_enum(
        _AccompanimentErrorCode,
        "Why an accompaniment mutation was refused.",
        _descriptions(
            _AccompanimentErrorCode,
            {
                "NOT_FOUND": "The household or accompaniment does not exist, or is not "
                "visible to you.",
                "HOUSEHOLD_CLOSED": "The household has no members left: nobody starts "
                "following it.",
                "ACCESS_REQUEST_REQUIRED": "A social worker does not assign an accompaniment: "
                "only the territory's SIAO does; ask for access to the household instead.",
                "TRANSFER_BY_SIAO_ONLY": "Only the territory's SIAO moves an accompaniment "
                "to another organisation (its social worker may name another referent of "
                "theirs).",
                "NOT_YOUR_ORGANISATION": "The accompaniment is another organisation's: only "
                "it or the territory's SIAO may change it.",
                "OTHER_TERRITORY": "No organisation of the household's territory has this id "
                "(it works in another territory, or does not exist).",
                "REFERENT_NOT_IN_ORGANISATION": "The named referent is not an active social "
                "worker of the organisation.",
                "ROLE_NOT_FOR_ORGANISATION": "The organisation's kind cannot take this role: "
                "a path referent is an association or a social service, a hosting structure "
                "a structure, a partner service an association, a social service or an "
                "administration.",
                "ALREADY_ACCOMPANIED": "The organisation already accompanies the household.",
                "ALREADY_ENDED": "The accompaniment has already ended.",
                "INVALID_COMMENT": "The comment is longer than 2,000 characters or contains "
                "control characters.",
                "INVALID_INPUT": "The input is inconsistent (see `message`).",
                "INVALID_REASON": "The reason is blank, too long, or contains control characters.",
                "DEMAND_ENDED": "The demand is closed, cancelled or unmet: its priority no "
                "longer orders anything; `currentStatus` tells which.",
            },
        ),
    )


@strawberry.interface(description="A business refusal of a mutation: nothing was changed.")
class UserError:
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    field: list[str] | None = strawberry.field(
        description='Path of the input field at fault, e.g. `["members", "0", "lastName"]`.'
    )


@strawberry.type(description="Why a household mutation was refused.")
class HouseholdUserError(UserError):
    code: HouseholdErrorCode = strawberry.field(description="Machine-readable reason.")
    current_version: int | None = strawberry.field(
        description="With STALE_VERSION: the household's version now."
    )


@strawberry.type(description="Why `updatePerson` was refused.")
class PersonUserError(UserError):
    code: PersonErrorCode = strawberry.field(description="Machine-readable reason.")
    current_version: int | None = strawberry.field(
        description="With STALE_VERSION: the person's version now."
    )


@strawberry.type(description="Why a demand mutation was refused.")
class DemandUserError(UserError):
    code: DemandErrorCode = strawberry.field(description="Machine-readable reason.")
    current_status: DemandStatus | None = strawberry.field(
        description="With INVALID_TRANSITION: the demand's status now."
    )
    current_version: int | None = strawberry.field(
        description="With STALE_VERSION: the version now."
    )


@strawberry.type(description="Why `recordEvaluation` was refused.")
class EvaluationUserError(UserError):
    code: EvaluationErrorCode = strawberry.field(description="Machine-readable reason.")


@strawberry.type(description="Why a note mutation was refused.")
class NoteUserError(UserError):
    code: NoteErrorCode = strawberry.field(description="Machine-readable reason.")
    current_version: int | None = strawberry.field(
        description="With STALE_VERSION: the note's version now."
    )


@strawberry.type(description="Why an accompaniment mutation was refused.")
class AccompanimentUserError(UserError):
    code: AccompanimentErrorCode = strawberry.field(description="Machine-readable reason.")


@strawberry.type(description="A field of a section changed by someone else's save.")
class SituationChange:
    field: str = strawberry.field(description="The field's name, as in the section type.")
    before: JSON | None = strawberry.field(
        description="Its value before that save (as the change log shows it to you)."
    )
    after: JSON | None = strawberry.field(description="Its value after that save.")
    at: datetime = strawberry.field(description="When it was saved.")
    version: int = strawberry.field(description="The section's version that save made.")
    actor_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Who saved it.")
    def by(self, info: Info) -> Later[User | None]:
        from resolvers.audit import actor

        if self.actor_id is None:
            return None
        return then(actor(info.context, self.actor_id), user_from_row)


@strawberry.type(description="Why `updateHouseholdSituation` was refused.")
class SituationUserError(UserError):
    code: SituationErrorCode = strawberry.field(description="Machine-readable reason.")
    current_version: int | None = strawberry.field(
        description="With STALE_VERSION: the section's version now."
    )
    changes_since: list[SituationChange] | None = strawberry.field(
        description="With STALE_VERSION: every field saved since the version you had, oldest first."
    )


E = TypeVar("E", bound=UserError)


_SHAPES: dict[type[UserError], tuple[Any, frozenset[str]]] = {}


def _shape(error_type: type[UserError]) -> tuple[Any, frozenset[str]]:
    """The code enum of a user error type, and the names of its fields (read once)."""
    shape = _SHAPES.get(error_type)
    if shape is None:
        hints = get_type_hints(error_type)
        shape = _SHAPES[error_type] = (hints["code"], frozenset(hints))
    return shape


def _changes(changes: list[Any] | None) -> list[SituationChange] | None:
    if changes is None:
        return None
    return [
        SituationChange(
            field=c.field,
            before=c.before,
            after=c.after,
            at=c.at,
            version=c.version,
            actor_id=c.actor_id,
        )
        for c in changes
    ]


def user_errors(error_type: type[E], problems: Iterable[Problem]) -> list[E]:
    """A mutation's refusals as its payload's `userErrors` of `error_type`: each code by its
    name in the type's own code enum, and whatever else the type carries of the refusal
    (`currentVersion`, `currentStatus`, `changesSince`)."""
    codes, fields = _shape(error_type)
    errors = []
    for p in problems:
        values: dict[str, Any] = {
            "code": to_schema(codes, p.code),
            "message": p.message,
            "field": p.field,
        }
        if "current_version" in fields:
            values["current_version"] = p.current_version
        if "current_status" in fields:
            status = p.current_status
            values["current_status"] = to_schema(DemandStatus, status) if status else None
        if "changes_since" in fields:
            values["changes_since"] = _changes(p.changes)
        errors.append(error_type(**values))
    return errors


def is_client_error(error: GraphQLError) -> bool:
    """An error that is the client's to fix, shown as it is: the project's coded errors,
    and GraphQL's own (syntax, validation, a variable that does not fit its type, such as
    a DateTime "yesterday" or a missing Int!). Anything else is masked and logged."""
    original = error.original_error
    return original is None or isinstance(
        original, CodedError | GraphQLError | StrawberryInputCoercionError
    )


def _overflow(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OverflowError):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


class ErrorPolicy(MaskErrors):
    """Keeps the project's own coded errors and GraphQL's parse/validation errors; masks
    everything else as INTERNAL_SERVER_ERROR with the request id that
    the log line of the original error also carries. No stack trace reaches a client."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal error.")

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return not is_client_error(error)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_var.get()
        if database_unavailable(error.original_error):
            # Not a bug: the database is down, restarting or too slow. The HTTP layer
            # answers 503 with Retry-After when no data could be served.
            log.warning(
                "database unavailable (request %s) at %s: %s",
                request_id,
                error.path,
                failure_chain(error.original_error),
            )
            return GraphQLError(
                message="The database is unavailable; retry in a few seconds.",
                nodes=error.nodes,
                path=error.path,
                extensions={
                    "code": ErrorCode.SERVICE_UNAVAILABLE.value,
                    "requestId": request_id,
                },
            )
        if _overflow(error.original_error):
            # An input the database cannot hold (a date at year 1 with +14:00, an integer
            # past its column): the client's to fix, told before any row is written.
            log.info("client error BAD_USER_INPUT at %s: value out of range", error.path)
            return GraphQLError(
                message="A value is out of the range the database can store "
                "(a date too far in the past or future, a number too large).",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": ErrorCode.BAD_USER_INPUT.value},
            )
        log.error(
            "internal error (request %s) at %s",
            request_id,
            error.path,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Internal error. Quote request id {request_id} to the support team.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
        )


def uncoded_error_code(message: str) -> ErrorCode:
    """The code of an error graphql-core raised without one (syntax, validation, a
    variable that does not fit its type)."""
    if message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if message.startswith("Variable '$"):  # a value that does not fit its type
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.GRAPHQL_VALIDATION_FAILED


def add_missing_codes(response: dict[str, Any]) -> dict[str, Any]:
    """Parse and validation errors come from graphql-core without a code: give them one,
    so that every error a client sees has `extensions.code`."""
    for error in response.get("errors") or []:
        extensions = error.setdefault("extensions", {})
        if "code" not in extensions:
            extensions["code"] = uncoded_error_code(str(error.get("message", ""))).value
    return response
