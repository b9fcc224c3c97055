"""Reading evaluations: a household's history of them, the latest of each kind."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from auth.policy import DEEP_SECTION_CATEGORY, LOGGED_READS, Access, DeepSection
from models import EvaluationKind
from resolvers.context import Context
from resolvers.household import child_page
from resolvers.loaders import Later, now_or_later
from resolvers.pagination import ResolvedPage


def evaluation(ctx: Context, evaluation_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.evaluation_by_id, evaluation_id)


def evaluations(
    ctx: Context,
    household_id: uuid.UUID,
    kind: EvaluationKind | None,
    first: int | None,
    after: str | None,
) -> Later[ResolvedPage]:
    loaders = ctx.loaders
    return child_page(
        ctx, loaders.evaluation_pages, loaders.evaluation_counts, household_id, first, after, kind
    )


def latest(ctx: Context, household_id: uuid.UUID, kind: EvaluationKind) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.latest_evaluation, (household_id, kind))


def readable_sections(
    ctx: Context, household_id: uuid.UUID, sections: dict[str, str] | None
) -> dict[str, str] | None:
    """A deep evaluation's sections (`Evaluation.sections`) without those whose category
    (`auth.policy.DEEP_SECTION_CATEGORY`) the viewer may not read, whether they were filled
    in or not. Reading them is an access to each logged category the viewer may read,
    logged whatever the sections hold (which ones were filled in is content too).

    Threat stopped: the `health` section of a deep evaluation served, inside the one JSON
    value that EVALUATION opens, to readers of EVALUATION who may not read HEALTH (the
    SIAO, structures)."""
    if sections is None:
        return None
    viewer = ctx.authenticated
    readable = {s.value for s, c in DEEP_SECTION_CATEGORY.items() if viewer.may(c, Access.READ)}
    for category in {DEEP_SECTION_CATEGORY[DeepSection(s)] for s in readable} & LOGGED_READS:
        ctx.note_access(household_id, category)
    return {name: text for name, text in sections.items() if name in readable}
