"""GraphQL enums generated from the Python enums of `auth.policy` and `models`, so that a
role or a status is named in one place only; each value carries its description."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

import strawberry

from auth.policy import ROLE_DESCRIPTIONS
from auth.policy import Role as _Role
from models import DemandKind as _DemandKind
from models import DemandStatus as _DemandStatus
from models import OrganisationKind as _OrganisationKind
from models import Relationship as _Relationship
from models import Sex as _Sex


def described_enum(
    source: type[StrEnum], description: str, values: dict[Any, str], name: str | None = None
) -> Any:
    missing = [m for m in source if m not in values]
    if missing:
        raise RuntimeError(f"{source.__name__}: no description for {missing}")
    members = {m.name: strawberry.enum_value(m.value, description=values[m]) for m in source}
    generated: Any = Enum(name or source.__name__, members)  # type: ignore[misc]
    return strawberry.enum(generated, description=description)


if TYPE_CHECKING:
    Role = _Role
    OrganisationKind = _OrganisationKind
    Relationship = _Relationship
    Sex = _Sex
    DemandKind = _DemandKind
    DemandStatus = _DemandStatus
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


def to_schema(schema_enum: Any, value: StrEnum | str) -> Any:
    """The GraphQL enum member for a model or policy enum value."""
    return schema_enum[value.name if isinstance(value, StrEnum) else value]
