from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from auth.policy import Category
from auth.policy import DeepSection as DeepSection
from auth.policy import FlashCriterion as FlashCriterion
from models.base import Base, text_enum, uuid_pk


class EvaluationKind(StrEnum):
    FLASH = "FLASH"
    DEEP = "DEEP"


# The category each kind of evaluation is written (and its content read) under; the
# criteria and sections (`FlashCriterion`, `DeepSection`, defined with the policy) each
# have their own too (`auth.policy.FLASH_CRITERION_CATEGORY`, `DEEP_SECTION_CATEGORY`).
EVALUATION_CATEGORY: dict[EvaluationKind, Category] = {
    EvaluationKind.FLASH: Category.FLASH_EVALUATION,
    EvaluationKind.DEEP: Category.EVALUATION,
}


SECTION_MAX = 10_000  # characters of one section's text


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Evaluation(Base):
    """A flash or deep evaluation of a household. Append-only: a new evaluation is a new
    row (the history is the evaluations themselves); an update trigger (migration 0005)
    refuses any change to a recorded one."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_household_kind_created", "household_id", "kind", "created_at", "id"),
        CheckConstraint("vulnerability_level BETWEEN 1 AND 4", name="level_range"),
        CheckConstraint(
            "(kind = 'FLASH') = (vulnerability_level IS NOT NULL AND criteria IS NOT NULL)",
            name="flash_has_level_and_criteria",
        ),
        CheckConstraint("(kind = 'DEEP') = (sections IS NOT NULL)", name="deep_has_sections"),
        CheckConstraint(
            f"criteria <@ ARRAY[{_sql_list(FlashCriterion)}]::varchar[]", name="known_criteria"
        ),
        CheckConstraint(
            "jsonb_typeof(sections) = 'object' "
            f"AND sections - ARRAY[{_sql_list(DeepSection)}] = '{{}}'::jsonb",
            name="known_sections",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[EvaluationKind] = mapped_column(text_enum(EvaluationKind, "evaluation_kind"))
    # FLASH: the vulnerability level (1 low ... 4 very high, as the schema says) and the
    # criteria checked.
    vulnerability_level: Mapped[int | None] = mapped_column(SmallInteger)
    criteria: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    # DEEP: free text per section, keyed by `DeepSection` values.
    sections: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
