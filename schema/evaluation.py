"""Evaluations (flash and deep) and `recordEvaluation`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.scalars import JSON

from auth.policy import (
    DEEP_SECTION_CATEGORY,
    FLASH_CRITERION_CATEGORY,
    Category,
    DeepSection,
)
from models import EvaluationKind as _EvaluationKind
from models import FlashCriterion as _FlashCriterion
from resolvers import audit
from resolvers import evaluation as resolve
from resolvers import evaluation_write as write
from resolvers.arguments import enum_arg
from resolvers.household import household as load_household
from resolvers.loaders import Later, then
from schema.enums import EvaluationKind, FlashCriterion, to_schema
from schema.errors import EvaluationUserError, user_errors
from schema.info import Info
from schema.node import Node, decode_uuid, encode_id
from schema.organisation import User, user_from_row
from schema.permissions import sensitive, writes_one_of

if TYPE_CHECKING:
    from schema.household import Household

HouseholdRef = Annotated["Household", strawberry.lazy("schema.household")]

SECTIONS_DOC = (
    "a JSON object of free texts keyed by section: `housingPath` (parcours logement), "
    "`familySituation`, `resources`, `health`, `socialSupport`, `recommendation`"
)


def _criteria_doc(category: Category) -> str:
    mine = ", ".join(c.value for c, cat in FLASH_CRITERION_CATEGORY.items() if cat is category)
    return (
        f"Flash: the criteria checked of category {category.value} ({mine}), possibly "
        "none; null for a deep one. Each criterion is read under the category of what it "
        "says, so a flash evaluation's criteria are split over `criteria`, "
        "`healthCriteria` and `violenceCriteria`."
    )


def _section(section: DeepSection, description: str) -> Any:
    """The typed field of one section of a deep evaluation, restricted to its category."""

    def resolve_section(root: Evaluation) -> str | None:
        return None if root.section_texts is None else root.section_texts.get(section.value)

    return sensitive(
        DEEP_SECTION_CATEGORY[section],
        f"Deep: the `{section.value}` section, {description}; null when left empty, and "
        "for a flash evaluation.",
        resolver=resolve_section,
    )


@strawberry.type(
    description="An evaluation of a household: flash (vulnerability level and criteria, done "
    "in a minute) or deep (the social evaluation in sections). Never edited: a new "
    "evaluation is recorded instead, so the list of them is the history. Its content "
    "carries its own categories: a criterion or a section that says what HEALTH or "
    "VIOLENCE protects is read only by readers of that category."
)
class Evaluation(Node):
    kind: EvaluationKind = strawberry.field(description="Flash or deep.")
    vulnerability_level: int | None = sensitive(
        Category.FLASH_EVALUATION,
        "Flash: the vulnerability level, from 1 (low) to 4 (very high); null for a deep one.",
    )
    criteria: list[FlashCriterion] | None = sensitive(
        Category.FLASH_EVALUATION, _criteria_doc(Category.FLASH_EVALUATION)
    )
    health_criteria: list[FlashCriterion] | None = sensitive(
        Category.HEALTH, _criteria_doc(Category.HEALTH)
    )
    violence_criteria: list[FlashCriterion] | None = sensitive(
        Category.VIOLENCE, _criteria_doc(Category.VIOLENCE)
    )
    housing_path = _section(DeepSection.HOUSING_PATH, "the housing path (parcours logement)")
    family_situation = _section(DeepSection.FAMILY_SITUATION, "the family situation")
    resources = _section(DeepSection.RESOURCES, "the resources (BUDGET)")
    health = _section(DeepSection.HEALTH, "the health situation (HEALTH)")
    social_support = _section(DeepSection.SOCIAL_SUPPORT, "the social support")
    recommendation = _section(DeepSection.RECOMMENDATION, "the evaluator's recommendation")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    row_id: strawberry.Private[uuid.UUID]
    household_id: strawberry.Private[uuid.UUID]
    author_id: strawberry.Private[uuid.UUID | None]
    section_texts: strawberry.Private[dict[str, str] | None]

    @property
    def household_key(self) -> uuid.UUID:
        return self.household_id

    @sensitive(
        Category.EVALUATION,
        f"Deep: {SECTIONS_DOC}; sections left empty are absent, and so are the sections "
        "whose category you may not read (each section has its own: see the typed "
        "fields, e.g. `health`, which answers FORBIDDEN to who may not read HEALTH). "
        "Null for a flash one.",
    )
    def sections(self, info: Info) -> JSON | None:
        readable = resolve.readable_sections(info.context, self.household_id, self.section_texts)
        return None if readable is None else JSON(readable)

    @strawberry.field(description="Who recorded it.")
    def author(self, info: Info) -> Later[User | None]:
        if self.author_id is None:
            return None
        return then(audit.actor(info.context, self.author_id), user_from_row)

    @strawberry.field(description="The household evaluated.")
    def household(self, info: Info) -> Later[HouseholdRef | None]:
        from schema.household import household_from_row

        return then(load_household(info.context, self.household_id), household_from_row)


def _criteria(row: Row[Any], category: Category) -> list[FlashCriterion] | None:
    if row.criteria is None:
        return None
    return [
        to_schema(FlashCriterion, c)
        for c in row.criteria
        if FLASH_CRITERION_CATEGORY[_FlashCriterion(c)] is category
    ]


def evaluation_from_row(row: Row[Any] | None) -> Evaluation | None:
    if row is None:
        return None
    return Evaluation(
        id=encode_id("Evaluation", row.id),
        kind=to_schema(EvaluationKind, row.kind),
        vulnerability_level=row.vulnerability_level,
        criteria=_criteria(row, Category.FLASH_EVALUATION),
        health_criteria=_criteria(row, Category.HEALTH),
        violence_criteria=_criteria(row, Category.VIOLENCE),
        created_at=row.created_at,
        row_id=row.id,
        household_id=row.household_id,
        author_id=row.created_by,
        section_texts=row.sections,
    )


@strawberry.input(
    description="A new evaluation. Flash: `vulnerabilityLevel` and `criteria`. Deep: `sections`."
)
class RecordEvaluationInput:
    household_id: strawberry.ID = strawberry.field(description="The household evaluated.")
    kind: EvaluationKind = strawberry.field(description="Flash or deep.")
    vulnerability_level: int | None = strawberry.field(
        default=None, description="Flash: from 1 (low) to 4 (very high vulnerability)."
    )
    criteria: list[FlashCriterion] | None = strawberry.field(
        default=None,
        description="Flash: every criterion checked, whatever its category (duplicates are "
        "ignored): who may record a flash evaluation records what they heard (a 115 "
        "operator hears that a woman is pregnant), and then reads back only the criteria "
        "of the categories they may read.",
    )
    sections: JSON | None = strawberry.field(
        default=None,
        description=f"Deep: {SECTIONS_DOC}. At least one is filled in; each is at most "
        "10,000 characters.",
    )

    def to_new(self) -> write.NewEvaluation:
        kind = enum_arg(_EvaluationKind, self.kind)
        assert kind is not None
        return write.NewEvaluation(
            kind=kind,
            vulnerability_level=self.vulnerability_level,
            criteria=(
                None
                if self.criteria is None
                else [c for c in (enum_arg(_FlashCriterion, c) for c in self.criteria) if c]
            ),
            sections=self.sections,
        )


@strawberry.type(description="Result of `recordEvaluation`.")
class RecordEvaluationPayload:
    user_errors: list[EvaluationUserError] = strawberry.field(
        description="Why nothing was recorded; empty on success."
    )
    evaluation_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The new evaluation; null if refused.")
    def evaluation(self, info: Info) -> Later[Evaluation | None]:
        if self.evaluation_id is None:
            return None
        return then(resolve.evaluation(info.context, self.evaluation_id), evaluation_from_row)


@strawberry.type
class EvaluationMutations:
    @writes_one_of(
        (Category.FLASH_EVALUATION, Category.EVALUATION),
        "Record a flash or deep evaluation of a household; earlier ones stay in its history. "
        "A flash evaluation needs the right to write FLASH_EVALUATION, a deep one the right "
        "to write EVALUATION (FORBIDDEN otherwise, and nothing is written).",
    )
    async def record_evaluation(
        self,
        info: Info,
        input: Annotated[RecordEvaluationInput, strawberry.argument(description="The evaluation.")],
    ) -> RecordEvaluationPayload:
        evaluation_id, problems = await write.record_evaluation(
            info.context, decode_uuid(input.household_id, "Household"), input.to_new()
        )
        return RecordEvaluationPayload(
            user_errors=user_errors(EvaluationUserError, problems), evaluation_id=evaluation_id
        )
