"""Reading evaluations: a household's history of them, the latest of each kind."""

from __future__ import annotations

import uuid
from typing import Any

from models import EvaluationKind
from resolvers.context import Context
from resolvers.household import child_page
from resolvers.loaders import now_or_later


def evaluation(ctx: Context, evaluation_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.evaluation_by_id, evaluation_id)


def evaluations(
    ctx: Context,
    household_id: uuid.UUID,
    kind: EvaluationKind | None,
    first: int,
    after: str | None,
) -> Any:
    loaders = ctx.loaders
    return child_page(
        ctx, loaders.evaluation_pages, loaders.evaluation_counts, household_id, first, after, kind
    )


def latest(ctx: Context, household_id: uuid.UUID, kind: EvaluationKind) -> Any:
    return now_or_later(ctx.loaders.latest_evaluation, (household_id, kind))
