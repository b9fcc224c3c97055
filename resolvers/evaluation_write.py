"""recordEvaluation: a new flash or deep evaluation of a household, appended to its history.

One mutation records both kinds, which the rights matrix treats as two categories
(FLASH_EVALUATION: accompanying social workers and the territory's SIAO write it;
EVALUATION, the deep one: accompanying social workers only). The mutation declares both
(`@writes` twice) and lets in whoever may write either; the kind given then decides,
here, which one the viewer needs (FORBIDDEN otherwise, before anything is read).

What a flash evaluation says is read under more categories than it is written under: its
HEALTH and VIOLENCE criteria (`auth.policy.FLASH_CRITERION_CATEGORY`) only by readers of
those. Writing is not split: whoever may write FLASH_EVALUATION records every criterion
they were told (the 115 operator hears "she is pregnant" on the phone and checks
PREGNANCY, though the SIAO may not read HEALTH); the payload then shows them the
criteria they may read, like any other read. Likewise a deep evaluation is written whole
by whoever may write EVALUATION, and each section is read under its own category.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auth.policy import Access
from models import DeepSection, Evaluation, EvaluationKind, FlashCriterion
from models.evaluation import EVALUATION_CATEGORY, SECTION_MAX
from resolvers import audit
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode
from resolvers.validation import clean_text, text_problem
from resolvers.writes import Problem, Refused, bump_activity, lock_household, write_instant


class EvaluationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    INVALID_LEVEL = "INVALID_LEVEL"
    INVALID_SECTIONS = "INVALID_SECTIONS"
    INVALID_INPUT = "INVALID_INPUT"


@dataclass(frozen=True)
class NewEvaluation:
    kind: EvaluationKind
    vulnerability_level: int | None = None
    criteria: list[FlashCriterion] | None = None
    sections: Any = None  # DEEP: a JSON object {section key: text}


def check_may_write(ctx: Context, kind: EvaluationKind) -> None:
    """The category of the kind given, checked against the matrix (see module docstring)."""
    category = EVALUATION_CATEGORY[kind]
    if not ctx.authenticated.may(category, Access.WRITE):
        raise CodedError(
            ErrorCode.FORBIDDEN,
            f"You may not record {kind.value.lower()} evaluations (category {category.value}).",
        )


def _flash_problems(new: NewEvaluation) -> list[Problem]:
    problems = []
    level = new.vulnerability_level
    if level is None or not 1 <= level <= 4:
        problems.append(
            Problem(
                EvaluationErrorCode.INVALID_LEVEL,
                "A flash evaluation needs a vulnerabilityLevel from 1 to 4.",
                ["vulnerabilityLevel"],
            )
        )
    if new.sections is not None:
        problems.append(
            Problem(
                EvaluationErrorCode.INVALID_INPUT,
                "`sections` are for deep evaluations.",
                ["sections"],
            )
        )
    return problems


def clean_sections(raw: Any) -> tuple[dict[str, str], list[Problem]]:
    """The deep evaluation's sections: a JSON object whose keys are `DeepSection` values
    and whose values are texts (null or blank: the section is left empty)."""
    if not isinstance(raw, dict):
        return {}, [
            Problem(
                EvaluationErrorCode.INVALID_SECTIONS,
                "`sections` is a JSON object: {"
                + ", ".join(f'"{s.value}": "..."' for s in DeepSection)
                + "}.",
                ["sections"],
            )
        ]
    known = {s.value for s in DeepSection}
    problems: list[Problem] = []
    sections: dict[str, str] = {}
    for key, value in raw.items():
        path = ["sections", str(key)[:40]]
        if key not in known:
            problems.append(
                Problem(
                    EvaluationErrorCode.INVALID_SECTIONS,
                    f"Unknown section {str(key)[:40]!r}; the sections are "
                    f"{', '.join(sorted(known))}.",
                    path,
                )
            )
            continue
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(
                Problem(EvaluationErrorCode.INVALID_SECTIONS, f"{key} is a text.", path)
            )
            continue
        problem = text_problem(value, max_length=SECTION_MAX, required=False)
        if problem:
            problems.append(
                Problem(EvaluationErrorCode.INVALID_SECTIONS, f"{key} {problem}.", path)
            )
        elif cleaned := clean_text(value):
            sections[key] = cleaned
    if not problems and not sections:
        problems.append(
            Problem(
                EvaluationErrorCode.INVALID_SECTIONS,
                "A deep evaluation needs at least one section filled in.",
                ["sections"],
            )
        )
    # In the order of the form, whatever the order given.
    ordered: dict[str, str] = {
        s.value: sections[s.value] for s in DeepSection if s.value in sections
    }
    return ordered, problems


def _deep_problems(new: NewEvaluation) -> tuple[dict[str, str], list[Problem]]:
    sections, problems = clean_sections(new.sections)
    for attr, name in (("vulnerability_level", "vulnerabilityLevel"), ("criteria", "criteria")):
        if getattr(new, attr) is not None:
            problems.append(
                Problem(
                    EvaluationErrorCode.INVALID_INPUT,
                    f"`{name}` is for flash evaluations.",
                    [name],
                )
            )
    return sections, problems


async def record_evaluation(
    ctx: Context, household_id: uuid.UUID, new: NewEvaluation
) -> tuple[uuid.UUID | None, list[Problem]]:
    check_may_write(ctx, new.kind)
    sections: dict[str, str] | None = None
    criteria: list[str] | None = None
    if new.kind is EvaluationKind.FLASH:
        problems = _flash_problems(new)
        given = set(new.criteria or ())
        criteria = [c.value for c in FlashCriterion if c in given]  # deduplicated, in order
    else:
        sections, problems = _deep_problems(new)
    if problems:
        return None, problems
    try:
        async with ctx.transaction() as session:
            household = await lock_household(session, ctx, household_id, ["householdId"])
            if household.closed_at is not None:
                raise Refused(
                    Problem(
                        EvaluationErrorCode.HOUSEHOLD_CLOSED,
                        "The household is closed.",
                        ["householdId"],
                    )
                )
            at = await write_instant(session)
            evaluation = Evaluation(
                id=uuid.uuid4(),
                household_id=household.id,
                kind=new.kind,
                vulnerability_level=new.vulnerability_level if criteria is not None else None,
                criteria=criteria,
                sections=sections,
                created_at=at,
                created_by=ctx.authenticated.user_id,
            )
            session.add(evaluation)
            await session.flush()
            audit.record(
                session,
                ctx,
                at=at,
                action="CREATE",
                entity_type="Evaluation",
                entity_id=evaluation.id,
                household_id=household.id,
                changes=audit.field_changes({}, evaluation_values(evaluation)),
            )
            await bump_activity(session, household.id, at)
    except Refused as refused:
        return None, refused.problems
    return evaluation.id, []


def evaluation_values(evaluation: Evaluation) -> dict[str, Any]:
    """What the change log shows of an evaluation."""
    return {
        "kind": evaluation.kind,
        "vulnerabilityLevel": evaluation.vulnerability_level,
        "criteria": evaluation.criteria,
        "sections": evaluation.sections,
    }
