"""The "Situation du ménage" tab and `updateHouseholdSituation`.

Every field of a section carries its section's category (`auth.policy.SITUATION_CATEGORY`),
and so does the field that reaches the section: a viewer who may not read VIOLENCE learns
neither the violence section's content nor whether anyone filled it in.
The sections' types are in `schema.situation_sections`, the mutation's input in
`schema.situation_patch`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from auth.policy import SITUATION_CATEGORY, Category
from auth.policy import SituationSection as _Section
from resolvers import household as households
from resolvers import situation as resolve
from resolvers import situation_write as write
from resolvers.loaders import Later, then
from schema.enums import to_schema
from schema.errors import SituationUserError, user_errors
from schema.info import Info
from schema.node import decode_uuid
from schema.permissions import sensitive, writes_one_of
from schema.situation_enums import SituationSection
from schema.situation_patch import UpdateHouseholdSituationInput, patch_values
from schema.situation_sections import (
    ActivitySection,
    AdministrativeSection,
    BudgetSection,
    HousingPrecaritySection,
    HousingStepsSection,
    MedicoSocialSection,
    SavedSection,
    ViolenceSection,
    build_section,
)

if TYPE_CHECKING:
    from schema.attachment import Attachment
    from schema.household import Household
    from schema.person import Person

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]
PersonRef = Annotated["Person", strawberry.lazy("schema.person")]
AttachmentRef = Annotated["Attachment", strawberry.lazy("schema.attachment")]


# --- reading ---------------------------------------------------------------------------


def _household_section(section: _Section) -> Callable[..., Any]:
    def resolver(self: HouseholdSituation, info: Info) -> Later[SavedSection]:
        return then(
            resolve.household_sections(info.context, self.household_id),
            lambda rows: build_section(section, rows, self.household_id, self.protected),
        )

    return resolver


def _person_section(section: _Section) -> Callable[..., Any]:
    def resolver(self: MemberSituation, info: Info) -> Later[SavedSection]:
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
    def person(self, info: Info) -> Later[PersonRef | None]:
        from schema.person import person_from_row

        return then(households.person(info.context, self.person_id), person_from_row)

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
    def attachments(self, info: Info) -> Later[list[AttachmentRef]]:
        from schema.attachment import household_attachments

        return household_attachments(info.context, self.household_id)

    @sensitive(
        Category.IDENTITY_MIN,
        "The current members' own sections (activity, administrative, medico-social), "
        "reference person first.",
    )
    def members(self, info: Info) -> Later[list[MemberSituation] | None]:
        return then(
            households.members(info.context, self.household_id, None),
            lambda rows: _members(rows, self.household_id),
        )


# --- writing ---------------------------------------------------------------------------


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
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        from schema.household import household_from_row

        if self.household_id is None:
            return None
        return then(households.household(info.context, self.household_id), household_from_row)


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
        info: Info,
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
            user_errors=user_errors(SituationUserError, saved.problems),
            section=to_schema(SituationSection, section),
            version=saved.version if ok else None,
            saved_at=saved.saved_at if ok else None,
            household_id=household_id if ok else None,
        )
