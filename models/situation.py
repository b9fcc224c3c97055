"""The household's situation ("Situation du ménage"), section by section.

A section is one autosaved block of the record's screen: housing steps, housing
precarity, budget and violence belong to the household; activity, administrative and
medico-social situation belong to each person (they follow a person who moves to another
household). One row per (household or person, section) holds the section's fields as a
JSON object, keyed by the GraphQL field names of `FIELDS` (a CHECK refuses other keys), and
the section's own `version`: two colleagues editing two sections never collide, and two
saves of one section with the same version cannot both win (`updateHouseholdSituation`).

Every field of a section has the section's category (`auth.policy.SITUATION_CATEGORY`),
and so does the section's existence: its version and save time are restricted too, since
"someone filled in the violence section" is itself what the category protects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from auth.policy import SITUATION_CATEGORY, Category, SituationSection
from models.base import Base, text_enum, uuid_pk

# Sections kept per person (the others are per household).
PERSON_SECTIONS = frozenset(
    {SituationSection.ACTIVITY, SituationSection.ADMINISTRATIVE, SituationSection.MEDICO_SOCIAL}
)


class DaloStatus(StrEnum):
    NONE = "NONE"
    FILED = "FILED"
    RECOGNISED = "RECOGNISED"
    REJECTED = "REJECTED"
    HOUSED = "HOUSED"


class LivingSituation(StrEnum):
    STREET = "STREET"
    MAKESHIFT_SHELTER = "MAKESHIFT_SHELTER"
    SQUAT = "SQUAT"
    EMERGENCY_SHELTER = "EMERGENCY_SHELTER"
    HOTEL = "HOTEL"
    HOSTED_BY_FAMILY_OR_FRIENDS = "HOSTED_BY_FAMILY_OR_FRIENDS"
    INSERTION_HOUSING = "INSERTION_HOUSING"
    INSTITUTION = "INSTITUTION"
    OWN_HOUSING_THREATENED = "OWN_HOUSING_THREATENED"
    OTHER = "OTHER"


class ActivityStatus(StrEnum):
    EMPLOYED_PERMANENT = "EMPLOYED_PERMANENT"
    EMPLOYED_TEMPORARY = "EMPLOYED_TEMPORARY"
    SELF_EMPLOYED = "SELF_EMPLOYED"
    JOB_SEEKER = "JOB_SEEKER"
    IN_TRAINING = "IN_TRAINING"
    STUDENT = "STUDENT"
    PUPIL = "PUPIL"
    RETIRED = "RETIRED"
    UNABLE_TO_WORK = "UNABLE_TO_WORK"
    NO_ACTIVITY = "NO_ACTIVITY"
    OTHER = "OTHER"


class ResourceKind(StrEnum):
    SALARY = "SALARY"
    UNEMPLOYMENT_BENEFIT = "UNEMPLOYMENT_BENEFIT"
    RSA = "RSA"
    ACTIVITY_BONUS = "ACTIVITY_BONUS"
    FAMILY_BENEFITS = "FAMILY_BENEFITS"
    HOUSING_BENEFIT = "HOUSING_BENEFIT"
    DISABILITY_ALLOWANCE = "DISABILITY_ALLOWANCE"
    PENSION = "PENSION"
    ASYLUM_SEEKER_ALLOWANCE = "ASYLUM_SEEKER_ALLOWANCE"
    ALIMONY = "ALIMONY"
    OTHER = "OTHER"


class ChargeKind(StrEnum):
    RENT = "RENT"
    ACCOMMODATION_FEE = "ACCOMMODATION_FEE"
    ENERGY = "ENERGY"
    INSURANCE = "INSURANCE"
    TRANSPORT = "TRANSPORT"
    PHONE = "PHONE"
    CHILDCARE = "CHILDCARE"
    ALIMONY = "ALIMONY"
    LOAN_REPAYMENT = "LOAN_REPAYMENT"
    OTHER = "OTHER"


class ResidenceStatus(StrEnum):
    FRENCH = "FRENCH"
    EU_CITIZEN = "EU_CITIZEN"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    RECEIPT = "RECEIPT"
    ASYLUM_SEEKER = "ASYLUM_SEEKER"
    REFUGEE = "REFUGEE"
    SUBSIDIARY_PROTECTION = "SUBSIDIARY_PROTECTION"
    STATELESS = "STATELESS"
    NO_RIGHT_OF_RESIDENCE = "NO_RIGHT_OF_RESIDENCE"
    OTHER = "OTHER"


class HealthCoverage(StrEnum):
    NONE = "NONE"
    BASIC = "BASIC"
    BASIC_AND_COMPLEMENTARY = "BASIC_AND_COMPLEMENTARY"
    CSS = "CSS"
    AME = "AME"


class ViolenceKind(StrEnum):
    DOMESTIC = "DOMESTIC"
    FAMILY = "FAMILY"
    SEXUAL = "SEXUAL"
    TRAFFICKING = "TRAFFICKING"
    OTHER = "OTHER"


class Kind(Enum):
    """How a field is typed, checked and stored in the section's JSON."""

    TEXT = "text"  # free text, at most TEXT_MAX characters
    BOOL = "bool"
    DATE = "date"  # ISO date
    ENUM = "enum"  # the enum member's value
    ENUM_LIST = "enum_list"  # distinct values, in the enum's order
    MONEY = "money"  # euros as a decimal string, 2 decimals at most
    LINES = "lines"  # budget lines [{"kind", "amount", "label"}]
    SNE_NUMBER = "sne_number"  # the national social-housing register's number
    HOUSEHOLD_FLAG = "household_flag"  # a column of households, not the JSON (protected)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    enum: type[StrEnum] | None = None
    past_only: bool = False  # DATE: not after today


TEXT = FieldSpec(Kind.TEXT)
BOOL = FieldSpec(Kind.BOOL)
PAST_DATE = FieldSpec(Kind.DATE, past_only=True)
ANY_DATE = FieldSpec(Kind.DATE)
MONEY = FieldSpec(Kind.MONEY)

FIELDS: dict[SituationSection, dict[str, FieldSpec]] = {
    SituationSection.HOUSING_STEPS: {
        "socialHousingNumber": FieldSpec(Kind.SNE_NUMBER),
        "socialHousingAppliedOn": PAST_DATE,
        "daloStatus": FieldSpec(Kind.ENUM, DaloStatus),
        "daloFiledOn": PAST_DATE,
        "daloDecidedOn": PAST_DATE,
        "comment": TEXT,
    },
    SituationSection.HOUSING_PRECARITY: {
        "livingSituation": FieldSpec(Kind.ENUM, LivingSituation),
        "since": PAST_DATE,
        "evictionProcedure": BOOL,
        "evictionDate": ANY_DATE,
        "comment": TEXT,
    },
    SituationSection.ACTIVITY: {
        "status": FieldSpec(Kind.ENUM, ActivityStatus),
        "since": PAST_DATE,
        "registeredJobSeeker": BOOL,
        "comment": TEXT,
    },
    SituationSection.BUDGET: {
        "resources": FieldSpec(Kind.LINES, ResourceKind),
        "charges": FieldSpec(Kind.LINES, ChargeKind),
        "debts": MONEY,
        "overindebtednessFile": BOOL,
        "comment": TEXT,
    },
    SituationSection.ADMINISTRATIVE: {
        "residenceStatus": FieldSpec(Kind.ENUM, ResidenceStatus),
        "permitExpiresOn": ANY_DATE,
        "hasIdentityDocument": BOOL,
        "comment": TEXT,
    },
    SituationSection.MEDICO_SOCIAL: {
        "healthCoverage": FieldSpec(Kind.ENUM, HealthCoverage),
        "pregnant": BOOL,
        "dueDate": ANY_DATE,
        "disability": BOOL,
        "disabilityRecognised": BOOL,
        "addiction": BOOL,
        "followUp": TEXT,
    },
    SituationSection.VIOLENCE: {
        "victim": BOOL,
        "kinds": FieldSpec(Kind.ENUM_LIST, ViolenceKind),
        "protectionOrder": BOOL,
        "protected": FieldSpec(Kind.HOUSEHOLD_FLAG),
        "comment": TEXT,
    },
}

# The change log's name for each section (AuditEvent.entity_type), also its GraphQL type.
ENTITY_TYPE: dict[SituationSection, str] = {
    SituationSection.HOUSING_STEPS: "HousingStepsSection",
    SituationSection.HOUSING_PRECARITY: "HousingPrecaritySection",
    SituationSection.ACTIVITY: "ActivitySection",
    SituationSection.BUDGET: "BudgetSection",
    SituationSection.ADMINISTRATIVE: "AdministrativeSection",
    SituationSection.MEDICO_SOCIAL: "MedicoSocialSection",
    SituationSection.VIOLENCE: "ViolenceSection",
}

# The change log's name for an attachment of each section (its file name has the
# section's category).
ATTACHMENT_ENTITY_TYPE: dict[SituationSection, str] = {
    section: name.replace("Section", "Attachment") for section, name in ENTITY_TYPE.items()
}

TEXT_MAX = 2_000
LINES_MAX = 30  # budget lines per list
LABEL_MAX = 100
MONEY_MAX = 1_000_000  # euros


def json_fields(section: SituationSection) -> list[str]:
    """The keys the section's JSON may hold (the household flag lives elsewhere)."""
    return [n for n, spec in FIELDS[section].items() if spec.kind is not Kind.HOUSEHOLD_FLAG]


def audited_situation_fields() -> dict[str, dict[str, Category | None]]:
    """What the change log records of each section and of its attachments (for
    `auth.policy.audited_fields`)."""
    sections = {
        ENTITY_TYPE[section]: {
            **{name: SITUATION_CATEGORY[section] for name in fields},
            "version": None,
        }
        for section, fields in FIELDS.items()
    }
    attachments = {
        ATTACHMENT_ENTITY_TYPE[section]: {
            # what the file is: its section's category (a checksum would let a viewer
            # confirm a document they hold was attached; a size, guess it)
            "fileName": category,
            "contentType": category,
            "size": category,
            "sha256": category,
            "section": None,
            "person": Category.IDENTITY_MIN,
            "deletedAt": None,
        }
        for section, category in SITUATION_CATEGORY.items()
    }
    return {**sections, **attachments}


def _keys_check() -> str:
    branches = " ".join(
        f"WHEN '{s.value}' THEN data - ARRAY[{', '.join(repr(k) for k in json_fields(s))}]"
        "::text[] = '{}'::jsonb"
        for s in SituationSection
    )
    return f"jsonb_typeof(data) = 'object' AND CASE section {branches} ELSE false END"


_PERSON_LIST = ", ".join(f"'{s.value}'" for s in sorted(PERSON_SECTIONS))


class SituationRecord(Base):
    """One section of a household's or a person's situation (see the module docstring)."""

    __tablename__ = "situation_sections"
    __table_args__ = (
        CheckConstraint(
            f"(person_id IS NOT NULL) = (section IN ({_PERSON_LIST}))"
            " AND (household_id IS NULL) = (person_id IS NOT NULL)",
            name="owner_matches_section",
        ),
        CheckConstraint(_keys_check(), name="known_keys"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(
            "uq_situation_sections_household_section",
            "household_id",
            "section",
            unique=True,
            postgresql_where=text("household_id IS NOT NULL"),
        ),
        Index(
            "uq_situation_sections_person_section",
            "person_id",
            "section",
            unique=True,
            postgresql_where=text("person_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"))
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"))
    section: Mapped[SituationSection] = mapped_column(
        text_enum(SituationSection, "situation_section")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    saved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
