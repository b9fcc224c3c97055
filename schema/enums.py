"""GraphQL enums generated from the Python enums of `auth.policy` and `models`, so that a
role or a status is named in one place only; each value carries its description."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

import strawberry

from auth.policy import FLASH_CRITERION_CATEGORY, ROLE_DESCRIPTIONS
from auth.policy import Role as _Role
from models import AccompanimentEndReason as _AccompanimentEndReason
from models import AccompanimentRole as _AccompanimentRole
from models import DemandKind as _DemandKind
from models import DemandStatus as _DemandStatus
from models import EvaluationKind as _EvaluationKind
from models import ExitReason as _ExitReason
from models import FlashCriterion as _FlashCriterion
from models import OrganisationKind as _OrganisationKind
from models import OrientationStatus as _OrientationStatus
from models import PlaceType as _PlaceType
from models import RefusalReason as _RefusalReason
from models import Relationship as _Relationship
from models import Sex as _Sex
from resolvers.queue import QueueOrder as _QueueOrder


def described_enum(
    source: type[StrEnum], description: str, values: dict[Any, str], name: str | None = None
) -> Any:
    missing = [m for m in source if m not in values]
    if missing:
        raise RuntimeError(f"{source.__name__}: no description for {missing}")
    members = {m.name: strawberry.enum_value(m.value, description=values[m]) for m in source}
    # mypy checks the functional API only with a literal name; this one is computed.
    generated: Any = Enum(name or source.__name__, members)  # type: ignore[misc]  # computed name
    return strawberry.enum(generated, description=description)


if TYPE_CHECKING:
    Role = _Role
    OrganisationKind = _OrganisationKind
    Relationship = _Relationship
    Sex = _Sex
    DemandKind = _DemandKind
    DemandStatus = _DemandStatus
    PlaceType = _PlaceType
    OrientationStatus = _OrientationStatus
    RefusalReason = _RefusalReason
    ExitReason = _ExitReason
    QueueOrder = _QueueOrder
    EvaluationKind = _EvaluationKind
    FlashCriterion = _FlashCriterion
    AccompanimentRole = _AccompanimentRole
    AccompanimentEndReason = _AccompanimentEndReason
else:
    Role = described_enum(
        _Role, "What a user does, which decides what they may see and do.", ROLE_DESCRIPTIONS
    )
    OrganisationKind = described_enum(
        _OrganisationKind,
        "What kind of organisation this is.",
        {
            _OrganisationKind.SIAO: "A SIAO (and its 115 emergency line).",
            _OrganisationKind.STRUCTURE: "An accommodation structure: CHRS, CHU, hotel...",
            _OrganisationKind.SOCIAL_SERVICE: "A public social service.",
            _OrganisationKind.ASSOCIATION: "An association that accompanies people.",
            _OrganisationKind.ADMINISTRATION: "A State administration.",
        },
    )
    Relationship = described_enum(
        _Relationship,
        "A member's relationship to the household's reference person.",
        {
            _Relationship.REFERENCE_PERSON: "The household's reference person.",
            _Relationship.SPOUSE: "Spouse or partner of the reference person.",
            _Relationship.CHILD: "Child of the reference person.",
            _Relationship.PARENT: "Parent of the reference person.",
            _Relationship.SIBLING: "Brother or sister of the reference person.",
            _Relationship.OTHER_RELATIVE: "Another relative.",
            _Relationship.OTHER: "Not related (friend, other adult living with them...).",
        },
    )
    Sex = described_enum(
        _Sex,
        "Sex as declared.",
        {
            _Sex.FEMALE: "Female.",
            _Sex.MALE: "Male.",
            _Sex.UNSPECIFIED: "Not declared, or neither.",
        },
    )
    DemandKind = described_enum(
        _DemandKind,
        "The two kinds of demand, carried by the same household.",
        {
            _DemandKind.EMERGENCY: "Emergency shelter (115): tonight or a short period.",
            _DemandKind.INSERTION: "Longer-term accommodation or housing (insertion).",
        },
    )
    DemandStatus = described_enum(
        _DemandStatus,
        "Where a demand stands in its lifecycle.",
        {
            _DemandStatus.DRAFT: "Being written, not yet sent to the SIAO.",
            _DemandStatus.SUBMITTED: "Sent to the SIAO, waiting to be processed.",
            _DemandStatus.IN_REVIEW: "Being evaluated by the SIAO.",
            _DemandStatus.ORIENTED: "Proposed to a structure, waiting for its decision.",
            _DemandStatus.ACCEPTED: "Accepted by the structure, admission pending.",
            _DemandStatus.IN_STAY: "The household is hosted.",
            _DemandStatus.CLOSED: "Finished (after the stay, or no longer needed).",
            _DemandStatus.REFUSED: "The structure refused the orientation.",
            _DemandStatus.CANCELLED: "Withdrawn before it was met.",
            _DemandStatus.PLACED: "Emergency: a place was found for the night.",
            _DemandStatus.UNMET: "Emergency: no place could be found for the night.",
        },
    )
    PlaceType = described_enum(
        _PlaceType,
        "A kind of place in a structure.",
        {
            _PlaceType.EMERGENCY: "Emergency shelter (CHU, night places).",
            _PlaceType.INSERTION: "Insertion accommodation (CHRS).",
            _PlaceType.STABILISATION: "Stabilisation: longer stays for people far from housing.",
            _PlaceType.ADAPTED_HOUSING: "Pension de famille, résidence sociale...",
            _PlaceType.HOTEL: "Hotel rooms paid for by the State.",
        },
    )
    OrientationStatus = described_enum(
        _OrientationStatus,
        "Where an orientation stands.",
        {
            _OrientationStatus.PROPOSED: "Proposed by the SIAO; holds a vacancy until decided.",
            _OrientationStatus.ACCEPTED: "Accepted by the structure; admission pending or done.",
            _OrientationStatus.REFUSED: "Refused by the structure (see `refusalReason`).",
            _OrientationStatus.CANCELLED: "Withdrawn with its demand; the place was freed.",
        },
    )
    RefusalReason = described_enum(
        _RefusalReason,
        "Why a structure refused an orientation.",
        {
            _RefusalReason.NO_SUITABLE_PLACE: "No place fits the household's composition.",
            _RefusalReason.PROFILE_NOT_ADMISSIBLE: "The household is outside the structure's "
            "admission criteria.",
            _RefusalReason.HOUSEHOLD_DECLINED: "The household declined the proposal.",
            _RefusalReason.INCOMPLETE_FILE: "Information is missing to decide.",
            _RefusalReason.SAFETY: "Safety of the household or of other residents.",
            _RefusalReason.OTHER: "Another reason (see the comment).",
        },
    )
    ExitReason = described_enum(
        _ExitReason,
        "Why a stay ended.",
        {
            _ExitReason.HOUSING: "Moved into housing.",
            _ExitReason.OTHER_STRUCTURE: "Moved to another structure.",
            _ExitReason.END_OF_NIGHT: "End of an emergency night.",
            _ExitReason.LEFT: "Left of their own accord.",
            _ExitReason.EXCLUDED: "Excluded by the structure.",
            _ExitReason.OTHER: "Another reason.",
        },
    )
    QueueOrder = described_enum(
        _QueueOrder,
        "How the work queue is ordered.",
        {
            _QueueOrder.PRIORITY: "Most urgent first (priority 1), then longest waiting.",
            _QueueOrder.WAITING_TIME: "Longest waiting first.",
        },
    )
    EvaluationKind = described_enum(
        _EvaluationKind,
        "The two kinds of evaluation of a household.",
        {
            _EvaluationKind.FLASH: "Flash evaluation: a vulnerability level (1-4) and the "
            "criteria checked, done in a minute (category FLASH_EVALUATION).",
            _EvaluationKind.DEEP: "Deep social evaluation in sections, replacing the old "
            "social report (category EVALUATION).",
        },
    )
    FlashCriterion = described_enum(
        _FlashCriterion,
        "A vulnerability criterion checked in a flash evaluation; each is read under its "
        "own category (`Evaluation.criteria`, `healthCriteria`, `violenceCriteria`).",
        {
            criterion: f"{text} Category {FLASH_CRITERION_CATEGORY[criterion].value}."
            for criterion, text in {
                _FlashCriterion.CHILDREN_UNDER_3: "A child under 3 years old in the household.",
                _FlashCriterion.PREGNANCY: "A pregnant member.",
                _FlashCriterion.HEALTH_ISSUE: "A health problem needing care soon.",
                _FlashCriterion.DISABILITY: "A member with a disability or reduced mobility.",
                _FlashCriterion.ELDERLY: "A member aged 65 or more.",
                _FlashCriterion.VIOLENCE: "Fleeing or exposed to violence.",
                _FlashCriterion.STREET_TONIGHT: "Would sleep in the street tonight.",
                _FlashCriterion.NO_RESOURCES: "No resources at all.",
            }.items()
        },
    )
    AccompanimentRole = described_enum(
        _AccompanimentRole,
        "What an accompanying organisation is to the household.",
        {
            _AccompanimentRole.PATH_REFERENT: "Référent de parcours: the professional who "
            "follows the household's path and whom to call first.",
            _AccompanimentRole.HOSTING_STRUCTURE: "Structure d'hébergement: the structure "
            "that hosts the household and follows it there.",
            _AccompanimentRole.PARTNER_SERVICE: "Service partenaire: a service following one "
            "side of the household's situation (health, addiction, employment, debts...); "
            "not named by the search view.",
        },
    )
    AccompanimentEndReason = described_enum(
        _AccompanimentEndReason,
        "Why an accompaniment ended.",
        {
            _AccompanimentEndReason.FOLLOW_UP_COMPLETED: "The follow-up is complete "
            "(fin d'accompagnement).",
            _AccompanimentEndReason.TRANSFERRED: "Transferred to another organisation or "
            "referent (`transferAccompaniment`).",
            _AccompanimentEndReason.HOUSEHOLD_LEFT: "The household left (moved away, lost "
            "from sight, declined the follow-up).",
            _AccompanimentEndReason.ENTERED_IN_ERROR: "Recorded by mistake.",
            _AccompanimentEndReason.OTHER: "Another reason (see the comment).",
        },
    )


def to_schema(schema_enum: Any, value: StrEnum | str) -> Any:
    """The GraphQL enum member for a model or policy enum value."""
    return schema_enum[value.name if isinstance(value, StrEnum) else value]
