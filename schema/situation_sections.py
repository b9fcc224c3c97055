"""The sections of the "Situation du ménage" tab as strawberry types, and how a stored
section (its JSON row) becomes one. Every field carries its section's category
(`auth.policy.SITUATION_CATEGORY`); the tab that reaches the sections is `schema.situation`.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import Row

from auth.policy import Category
from auth.policy import SituationSection as _Section
from models.situation import FIELDS, FieldSpec, Kind
from resolvers import audit
from resolvers.loaders import Later, then
from schema.enums import to_schema
from schema.info import Info
from schema.organisation import User, user_from_row
from schema.permissions import sensitive
from schema.situation_enums import (
    SCHEMA_ENUMS,
    ActivityStatus,
    ChargeKind,
    DaloStatus,
    HealthCoverage,
    LivingSituation,
    ResidenceStatus,
    ResourceKind,
    ViolenceKind,
)

SIT, BUD, ADM = Category.SITUATION, Category.BUDGET, Category.ADMINISTRATIVE
HEA, VIO = Category.HEALTH, Category.VIOLENCE


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@strawberry.interface(
    description="A section of the situation tab, saved on its own (the screen autosaves "
    "it): pass its `version` as `expectedVersion` to `updateHouseholdSituation`."
)
class SavedSection:
    version: int = strawberry.field(
        description="Save counter of this section: 0 while it was never saved."
    )
    saved_at: datetime | None = strawberry.field(
        description="When it was last saved (« Sauvegardé le … »); null if never."
    )
    household_id: strawberry.Private[uuid.UUID]
    saved_by_id: strawberry.Private[uuid.UUID | None]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @strawberry.field(description="Who saved it last.")
    def saved_by(self, info: Info) -> Later[User | None]:
        if self.saved_by_id is None:
            return None
        return then(audit.actor(info.context, self.saved_by_id), user_from_row)


@strawberry.type(description="Démarches d'accès au logement.")
class HousingStepsSection(SavedSection):
    social_housing_number: str | None = sensitive(
        SIT,
        "Number of the social-housing application in the national register (numéro unique "
        "SNE): 18 characters, département, year and month of application, sequence.",
    )
    social_housing_applied_on: date | None = sensitive(
        SIT, "When the social-housing application was first filed."
    )
    dalo_status: DaloStatus | None = sensitive(SIT, "Where the DALO recourse stands.")
    dalo_filed_on: date | None = sensitive(SIT, "When the DALO recourse was filed.")
    dalo_decided_on: date | None = sensitive(SIT, "When the commission decided.")
    comment: str | None = sensitive(SIT, "Other steps, in words.")


@strawberry.type(description="Précarité liée au logement.")
class HousingPrecaritySection(SavedSection):
    living_situation: LivingSituation | None = sensitive(SIT, "Where the household lives now.")
    since: date | None = sensitive(SIT, "Since when.")
    eviction_procedure: bool | None = sensitive(SIT, "An eviction procedure is under way.")
    eviction_date: date | None = sensitive(SIT, "Date of the eviction, if set.")
    comment: str | None = sensitive(SIT, "Details, in words.")


@strawberry.type(description="Activité et emploi (of one person).")
class ActivitySection(SavedSection):
    status: ActivityStatus | None = sensitive(SIT, "The person's activity.")
    since: date | None = sensitive(SIT, "Since when.")
    registered_job_seeker: bool | None = sensitive(
        SIT, "Registered as a job seeker (France Travail)."
    )
    comment: str | None = sensitive(SIT, "Details, in words.")


@strawberry.type(description="A monthly resource.")
class ResourceLine:
    kind: ResourceKind = strawberry.field(description="What it is.")
    amount: Decimal = strawberry.field(description="Euros per month.")
    label: str | None = strawberry.field(description="Details (e.g. the employer).")


@strawberry.type(description="A monthly charge.")
class ChargeLine:
    kind: ChargeKind = strawberry.field(description="What it is.")
    amount: Decimal = strawberry.field(description="Euros per month.")
    label: str | None = strawberry.field(description="Details.")


def _total(lines: list[ResourceLine] | list[ChargeLine] | None) -> Decimal:
    return sum((line.amount for line in lines or ()), Decimal("0.00"))


@strawberry.type(description="Situation budgétaire of the household.")
class BudgetSection(SavedSection):
    resources: list[ResourceLine] | None = sensitive(BUD, "Resources by kind, per month.")
    charges: list[ChargeLine] | None = sensitive(BUD, "Charges by kind, per month.")
    debts: Decimal | None = sensitive(BUD, "Total of the debts, in euros.")
    overindebtedness_file: bool | None = sensitive(
        BUD, "A file was lodged with the Banque de France (surendettement)."
    )
    comment: str | None = sensitive(BUD, "Details, in words.")

    @sensitive(BUD, "Sum of the resources per month.")
    def total_resources(self) -> Decimal | None:
        return _total(self.resources)

    @sensitive(BUD, "Sum of the charges per month.")
    def total_charges(self) -> Decimal | None:
        return _total(self.charges)

    @sensitive(BUD, "Resources minus charges per month (reste à vivre before daily needs).")
    def balance(self) -> Decimal | None:
        return _total(self.resources) - _total(self.charges)


@strawberry.type(description="Situation administrative (of one person).")
class AdministrativeSection(SavedSection):
    residence_status: ResidenceStatus | None = sensitive(ADM, "Right of residence.")
    permit_expires_on: date | None = sensitive(ADM, "When the permit or receipt expires.")
    has_identity_document: bool | None = sensitive(ADM, "Holds a valid identity document.")
    comment: str | None = sensitive(ADM, "Steps under way, in words.")


@strawberry.type(description="Situation médico-sociale (of one person).")
class MedicoSocialSection(SavedSection):
    health_coverage: HealthCoverage | None = sensitive(HEA, "Health insurance.")
    pregnant: bool | None = sensitive(HEA, "Pregnant.")
    due_date: date | None = sensitive(HEA, "Expected date of birth.")
    disability: bool | None = sensitive(HEA, "Has a disability.")
    disability_recognised: bool | None = sensitive(
        HEA, "The disability is recognised (MDPH decision)."
    )
    addiction: bool | None = sensitive(HEA, "An addiction is reported.")
    follow_up: str | None = sensitive(HEA, "Care and follow-up, in words.")


@strawberry.type(description="Violences.")
class ViolenceSection(SavedSection):
    victim: bool | None = sensitive(VIO, "Victim of violence.")
    kinds: list[ViolenceKind] | None = sensitive(VIO, "Kinds of violence suffered.")
    protection_order: bool | None = sensitive(VIO, "A protection order was issued.")
    protected: bool | None = sensitive(
        VIO,
        "The household is protected (same as `Household.isProtected`): absent from "
        "searches by anyone who does not accompany it, and from partner feeds.",
    )
    comment: str | None = sensitive(VIO, "Details, in words.")


SECTION_TYPES: dict[_Section, type[SavedSection]] = {
    _Section.HOUSING_STEPS: HousingStepsSection,
    _Section.HOUSING_PRECARITY: HousingPrecaritySection,
    _Section.ACTIVITY: ActivitySection,
    _Section.BUDGET: BudgetSection,
    _Section.ADMINISTRATIVE: AdministrativeSection,
    _Section.MEDICO_SOCIAL: MedicoSocialSection,
    _Section.VIOLENCE: ViolenceSection,
}
LINE_TYPES: dict[str, type[ResourceLine] | type[ChargeLine]] = {
    "resources": ResourceLine,
    "charges": ChargeLine,
}


def _schema_enum(spec: FieldSpec) -> Any:
    """The GraphQL enum of a field of enum values (ENUM, ENUM_LIST, LINES' kinds)."""
    if spec.enum is None:
        raise TypeError(f"a {spec.kind} field names no enum")
    return SCHEMA_ENUMS[spec.enum]


def _value(section: _Section, name: str, raw: Any) -> Any:
    """A stored JSON value as the GraphQL field's type."""
    spec = FIELDS[section][name]
    if raw is None:
        return [] if spec.kind in (Kind.LINES, Kind.ENUM_LIST) else None
    kind = spec.kind
    if kind is Kind.DATE:
        return date.fromisoformat(raw)
    if kind is Kind.MONEY:
        return Decimal(raw)
    if kind is Kind.ENUM:
        return to_schema(_schema_enum(spec), raw)
    if kind is Kind.ENUM_LIST:
        return [to_schema(_schema_enum(spec), v) for v in raw]
    if kind is Kind.LINES:
        line_type = LINE_TYPES[name]
        return [
            line_type(
                kind=to_schema(_schema_enum(spec), line["kind"]),
                amount=Decimal(line["amount"]),
                label=line.get("label"),
            )
            for line in raw
        ]
    return raw


def build_section(
    section: _Section, rows: list[Row[Any]], household_id: uuid.UUID, protected: bool = False
) -> SavedSection:
    """The section from its row among `rows` (an empty one, version 0, if never saved)."""
    row = next((r for r in rows if r.section == section.value), None)
    data: dict[str, Any] = row.data if row is not None else {}
    values = {
        snake_case(name): (
            protected if spec.kind is Kind.HOUSEHOLD_FLAG else _value(section, name, data.get(name))
        )
        for name, spec in FIELDS[section].items()
    }
    return SECTION_TYPES[section](
        **values,
        version=row.version if row is not None else 0,
        saved_at=row.saved_at if row is not None else None,
        household_id=household_id,
        saved_by_id=row.saved_by if row is not None else None,
    )
