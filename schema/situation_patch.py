"""The input of `updateHouseholdSituation`: one section's changes (a patch, absent fields
unchanged), and how a patch becomes the values `resolvers.situation_write` saves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from auth.policy import SituationSection as _Section
from models.situation import FIELDS, TEXT_MAX, Kind
from resolvers.arguments import enum_arg
from resolvers.situation_patch import SNE_EXAMPLE
from schema.situation_enums import (
    ActivityStatus,
    ChargeKind,
    DaloStatus,
    HealthCoverage,
    LivingSituation,
    ResidenceStatus,
    ResourceKind,
    ViolenceKind,
)
from schema.situation_sections import snake_case

_UNSET: Any = strawberry.UNSET
_TEXT = f"Free text, at most {TEXT_MAX:,} characters; null or blank clears it."


@strawberry.input(description="A monthly resource.")
class ResourceLineInput:
    kind: ResourceKind = strawberry.field(description="What it is.")
    amount: Decimal = strawberry.field(description="Euros per month, ≥ 0, 2 decimals at most.")
    label: str | None = strawberry.field(default=None, description="Details, one line.")


@strawberry.input(description="A monthly charge.")
class ChargeLineInput:
    kind: ChargeKind = strawberry.field(description="What it is.")
    amount: Decimal = strawberry.field(description="Euros per month, ≥ 0, 2 decimals at most.")
    label: str | None = strawberry.field(default=None, description="Details, one line.")


_ABSENT = "Absent: unchanged; null: cleared."


@strawberry.input(description=f"Changes to « Démarches d'accès au logement ». {_ABSENT}")
class HousingStepsPatch:
    social_housing_number: str | None = strawberry.field(
        default=_UNSET,
        description="The national register's number (18 characters; spaces, dots and "
        f"dashes are ignored), e.g. `{SNE_EXAMPLE}`.",
    )
    social_housing_applied_on: date | None = strawberry.field(
        default=_UNSET, description="Not in the future."
    )
    dalo_status: DaloStatus | None = strawberry.field(
        default=_UNSET, description="Where the DALO recourse stands."
    )
    dalo_filed_on: date | None = strawberry.field(default=_UNSET, description="Not in the future.")
    dalo_decided_on: date | None = strawberry.field(
        default=_UNSET, description="Not in the future."
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(description=f"Changes to « Précarité liée au logement ». {_ABSENT}")
class HousingPrecarityPatch:
    living_situation: LivingSituation | None = strawberry.field(
        default=_UNSET, description="Where the household lives now."
    )
    since: date | None = strawberry.field(default=_UNSET, description="Not in the future.")
    eviction_procedure: bool | None = strawberry.field(
        default=_UNSET, description="An eviction procedure is under way."
    )
    eviction_date: date | None = strawberry.field(
        default=_UNSET, description="Date of the eviction, if set."
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(description=f"Changes to a person's « Activité ». {_ABSENT}")
class ActivityPatch:
    status: ActivityStatus | None = strawberry.field(
        default=_UNSET, description="The person's activity."
    )
    since: date | None = strawberry.field(default=_UNSET, description="Not in the future.")
    registered_job_seeker: bool | None = strawberry.field(
        default=_UNSET, description="Registered with France Travail."
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(
    description=f"Changes to « Situation budgétaire ». {_ABSENT} A list given replaces "
    "the stored one (at most 30 lines)."
)
class BudgetPatch:
    resources: list[ResourceLineInput] | None = strawberry.field(
        default=_UNSET, description="Every resource."
    )
    charges: list[ChargeLineInput] | None = strawberry.field(
        default=_UNSET, description="Every charge."
    )
    debts: Decimal | None = strawberry.field(
        default=_UNSET, description="Total of the debts, euros."
    )
    overindebtedness_file: bool | None = strawberry.field(
        default=_UNSET, description="Surendettement."
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(description=f"Changes to a person's « Situation administrative ». {_ABSENT}")
class AdministrativePatch:
    residence_status: ResidenceStatus | None = strawberry.field(
        default=_UNSET, description="Right of residence."
    )
    permit_expires_on: date | None = strawberry.field(
        default=_UNSET, description="When the permit or receipt expires."
    )
    has_identity_document: bool | None = strawberry.field(
        default=_UNSET, description="Holds a valid identity document."
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(description=f"Changes to a person's « Situation médico-sociale ». {_ABSENT}")
class MedicoSocialPatch:
    health_coverage: HealthCoverage | None = strawberry.field(
        default=_UNSET, description="Health insurance."
    )
    pregnant: bool | None = strawberry.field(default=_UNSET, description="Pregnant.")
    due_date: date | None = strawberry.field(default=_UNSET, description="Expected birth.")
    disability: bool | None = strawberry.field(default=_UNSET, description="Disability.")
    disability_recognised: bool | None = strawberry.field(
        default=_UNSET, description="Recognised by the MDPH."
    )
    addiction: bool | None = strawberry.field(default=_UNSET, description="Addiction.")
    follow_up: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(description=f"Changes to « Violences ». {_ABSENT}")
class ViolencePatch:
    victim: bool | None = strawberry.field(default=_UNSET, description="Victim of violence.")
    kinds: list[ViolenceKind] | None = strawberry.field(
        default=_UNSET, description="Every kind suffered (replaces the stored list)."
    )
    protection_order: bool | None = strawberry.field(
        default=_UNSET, description="A protection order was issued."
    )
    protected: bool | None = strawberry.field(
        default=_UNSET,
        description="Protect the household (true or false, never null): hides it from "
        "searches by anyone who does not accompany it, and from partner feeds.",
    )
    comment: str | None = strawberry.field(default=_UNSET, description=_TEXT)


@strawberry.input(
    one_of=True,
    description="Exactly one section's changes: the key names the section saved.",
)
class SituationPatch:
    housing_steps: HousingStepsPatch | None = strawberry.field(
        default=_UNSET, description="The household's housing steps (SITUATION)."
    )
    housing_precarity: HousingPrecarityPatch | None = strawberry.field(
        default=_UNSET, description="The household's housing precarity (SITUATION)."
    )
    activity: ActivityPatch | None = strawberry.field(
        default=_UNSET, description="A member's activity (SITUATION; give `personId`)."
    )
    budget: BudgetPatch | None = strawberry.field(
        default=_UNSET, description="The household's budget (BUDGET)."
    )
    administrative: AdministrativePatch | None = strawberry.field(
        default=_UNSET,
        description="A member's administrative situation (ADMINISTRATIVE; give `personId`).",
    )
    medico_social: MedicoSocialPatch | None = strawberry.field(
        default=_UNSET, description="A member's medico-social situation (HEALTH; give `personId`)."
    )
    violence: ViolencePatch | None = strawberry.field(
        default=_UNSET, description="Violence and the protected flag (VIOLENCE)."
    )

    def chosen(self) -> tuple[_Section, Any]:
        for section in _Section:
            value = getattr(self, section.value.lower())
            if value is not strawberry.UNSET and value is not None:
                return section, value
        raise AssertionError("@oneOf guarantees one section")  # pragma: no cover


def _python_value(section: _Section, name: str, value: Any) -> Any:
    """A patch value as `situation_write` wants it (model enums, line dicts)."""
    spec = FIELDS[section][name]
    enum = spec.enum
    if value is None:
        return None
    if spec.kind is Kind.ENUM and enum is not None:
        return enum_arg(enum, value)
    if spec.kind is Kind.ENUM_LIST and enum is not None:
        return [enum_arg(enum, v) for v in value]
    if spec.kind is Kind.LINES and enum is not None:
        return [
            {"kind": enum_arg(enum, line.kind), "amount": line.amount, "label": line.label}
            for line in value
        ]
    return value


def patch_values(section: _Section, patch: Any) -> dict[str, Any]:
    return {
        name: _python_value(section, name, getattr(patch, snake_case(name)))
        for name in FIELDS[section]
        if getattr(patch, snake_case(name)) is not strawberry.UNSET
    }


@strawberry.input(description="Save one section of a household's situation.")
class UpdateHouseholdSituationInput:
    household_id: strawberry.ID = strawberry.field(description="The household.")
    person_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For a person's section (activity, administrative, medico-social): the "
        "member; a current member of the household. Not given for the household's sections.",
    )
    expected_version: int = strawberry.field(
        description="The section's `version` as you read it (0 for a section never saved). "
        "If someone saved it since, nothing is written and you get STALE_VERSION with "
        "`changesSince`."
    )
    patch: SituationPatch = strawberry.field(description="The changes, under the section's key.")
