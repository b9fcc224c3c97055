"""The "Situation du ménage" tab and `updateHouseholdSituation`.

Every field of a section carries its section's category (`auth.policy.SITUATION_CATEGORY`),
and so does the field that reaches the section: a viewer who may not read VIOLENCE learns
neither the violence section's content nor whether anyone filled it in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import SITUATION_CATEGORY, Category
from auth.policy import SituationSection as _Section
from models.situation import FIELDS, TEXT_MAX, Kind
from resolvers import audit
from resolvers import household as households
from resolvers import situation as resolve
from resolvers import situation_write as write
from resolvers.arguments import enum_arg
from resolvers.loaders import then
from schema.enums import to_schema
from schema.errors import SituationUserError, situation_errors
from schema.node import decode_uuid
from schema.organisation import User, user_from_row
from schema.permissions import sensitive, writes_one_of
from schema.situation_enums import (
    SCHEMA_ENUMS,
    ActivityStatus,
    ChargeKind,
    DaloStatus,
    HealthCoverage,
    LivingSituation,
    ResidenceStatus,
    ResourceKind,
    SituationSection,
    ViolenceKind,
)

if TYPE_CHECKING:
    from schema.attachment import Attachment
    from schema.household import Household
    from schema.person import Person

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]
PersonRef = Annotated["Person", strawberry.lazy("schema.person")]
AttachmentRef = Annotated["Attachment", strawberry.lazy("schema.attachment")]

SIT, BUD, ADM = Category.SITUATION, Category.BUDGET, Category.ADMINISTRATIVE
HEA, VIO = Category.HEALTH, Category.VIOLENCE


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- reading ---------------------------------------------------------------------------


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
    def saved_by(self, info: strawberry.Info) -> User | None:
        if self.saved_by_id is None:
            return None
        return then(audit.actor(info.context, self.saved_by_id), user_from_row)  # type: ignore[no-any-return]


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
        return to_schema(SCHEMA_ENUMS[spec.enum], raw)  # type: ignore[index]
    if kind is Kind.ENUM_LIST:
        return [to_schema(SCHEMA_ENUMS[spec.enum], v) for v in raw]  # type: ignore[index]
    if kind is Kind.LINES:
        line_type = LINE_TYPES[name]
        return [
            line_type(
                kind=to_schema(SCHEMA_ENUMS[spec.enum], line["kind"]),  # type: ignore[index]
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
        _snake(name): (
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


def _household_section(section: _Section) -> Callable[..., Any]:
    def resolver(self: HouseholdSituation, info: strawberry.Info):  # type: ignore[no-untyped-def]
        return then(
            resolve.household_sections(info.context, self.household_id),
            lambda rows: build_section(section, rows, self.household_id, self.protected),
        )

    return resolver


def _person_section(section: _Section) -> Callable[..., Any]:
    def resolver(self: MemberSituation, info: strawberry.Info):  # type: ignore[no-untyped-def]
        return then(
            resolve.person_sections(info.context, self.person_id),
            lambda rows: build_section(section, rows, self.household_id),
        )

    return resolver


def _sensitive_section(section: _Section, kind: str, per_person: bool) -> Any:
    category = SITUATION_CATEGORY[section]
    return sensitive(
        category,
        f"{kind}; an empty section with version 0 if never saved.",
        resolver=_person_section(section) if per_person else _household_section(section),
    )


@strawberry.type(description="One member's own sections (they follow the person).")
class MemberSituation:
    person_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @strawberry.field(description="The member.")
    def person(self, info: strawberry.Info) -> PersonRef | None:
        from schema.person import person_from_row

        return then(households.person(info.context, self.person_id), person_from_row)  # type: ignore[no-any-return]

    activity: ActivitySection | None = _sensitive_section(
        _Section.ACTIVITY, "Activité et emploi", True
    )
    administrative: AdministrativeSection | None = _sensitive_section(
        _Section.ADMINISTRATIVE, "Situation administrative", True
    )
    medico_social: MedicoSocialSection | None = _sensitive_section(
        _Section.MEDICO_SOCIAL, "Situation médico-sociale", True
    )


def _members(rows: list[Row[Any]], household_id: uuid.UUID) -> list[MemberSituation]:
    return [MemberSituation(person_id=r.person_id, household_id=household_id) for r in rows]


@strawberry.type(
    description="The « Situation du ménage » tab: the household's sections and each "
    "current member's. Each section is saved on its own by `updateHouseholdSituation`."
)
class HouseholdSituation:
    household_id: strawberry.Private[uuid.UUID]
    protected: strawberry.Private[bool]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    housing_steps: HousingStepsSection | None = _sensitive_section(
        _Section.HOUSING_STEPS, "Démarches d'accès au logement", False
    )
    housing_precarity: HousingPrecaritySection | None = _sensitive_section(
        _Section.HOUSING_PRECARITY, "Précarité liée au logement", False
    )
    budget: BudgetSection | None = _sensitive_section(
        _Section.BUDGET, "Situation budgétaire", False
    )
    violence: ViolenceSection | None = _sensitive_section(_Section.VIOLENCE, "Violences", False)

    @strawberry.field(
        description="Pièces jointes: the documents attached to the sections you may read "
        "(the others are not listed), newest first."
    )
    def attachments(self, info: strawberry.Info) -> list[AttachmentRef]:
        from schema.attachment import household_attachments

        return household_attachments(info.context, self.household_id)  # type: ignore[no-any-return]

    @sensitive(
        Category.IDENTITY_MIN,
        "The current members' own sections (activity, administrative, medico-social), "
        "reference person first.",
    )
    def members(self, info: strawberry.Info) -> list[MemberSituation] | None:
        return then(  # type: ignore[no-any-return]
            households.members(info.context, self.household_id, None),
            lambda rows: _members(rows, self.household_id),
        )


# --- writing ---------------------------------------------------------------------------

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
        f"dashes are ignored), e.g. `{write.SNE_EXAMPLE}`.",
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
        name: _python_value(section, name, getattr(patch, _snake(name)))
        for name in FIELDS[section]
        if getattr(patch, _snake(name)) is not strawberry.UNSET
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


@strawberry.type(description="Result of `updateHouseholdSituation`.")
class UpdateHouseholdSituationPayload:
    user_errors: list[SituationUserError] = strawberry.field(
        description="Why nothing was saved; empty on success."
    )
    section: SituationSection = strawberry.field(description="The section the patch named.")
    version: int | None = strawberry.field(
        description="The section's version now (unchanged when the patch changed nothing); "
        "null if refused."
    )
    saved_at: datetime | None = strawberry.field(
        description="When the section was saved (« Sauvegardé le … »); null if refused or "
        "never saved."
    )
    household_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The household, to read the saved section back.")
    def household(self, info: strawberry.Info) -> HouseholdRef | None:
        from schema.household import household_from_row

        if self.household_id is None:
            return None
        return then(households.household(info.context, self.household_id), household_from_row)  # type: ignore[no-any-return]


_WRITTEN = tuple(dict.fromkeys(SITUATION_CATEGORY.values()))


@strawberry.type
class SituationMutations:
    @writes_one_of(
        _WRITTEN,
        "Save one section of a household's (or a member's) situation; the section's "
        "category decides who may (FORBIDDEN otherwise, and nothing is written).",
    )
    async def update_household_situation(
        self,
        info: strawberry.Info,
        input: Annotated[
            UpdateHouseholdSituationInput, strawberry.argument(description="The save.")
        ],
    ) -> UpdateHouseholdSituationPayload:
        section, patch = input.patch.chosen()
        household_id = decode_uuid(input.household_id, "Household")
        person_id = decode_uuid(input.person_id, "Person") if input.person_id else None
        saved = await write.update_situation(
            info.context,
            household_id,
            person_id,
            section,
            patch_values(section, patch),
            input.expected_version,
        )
        ok = not saved.problems
        return UpdateHouseholdSituationPayload(
            user_errors=situation_errors(saved.problems),
            section=to_schema(SituationSection, section),
            version=saved.version if ok else None,
            saved_at=saved.saved_at if ok else None,
            household_id=household_id if ok else None,
        )
