"""Priorities owned by the SIAO: a creator's wish becomes a suggestion.

Until now whoever created a demand set its `priority`, which orders the SIAO work queue (a
beneficiary's own priority-1 demand went to the top). From now on only the territory's
SIAO sets it (at creation, or `setDemandPriority`, audited with its reason); anyone else's
`priority` is kept as a suggestion with its author:
- `suggested_priority` (1-4), `priority_suggested_by` (the user who suggested it), both
  null or both set.

Existing demands are untouched: their priority stays what it is and they carry no
suggestion (we cannot tell after the fact who meant what).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-21 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("demands", sa.Column("suggested_priority", sa.SmallInteger(), nullable=True))
    op.add_column("demands", sa.Column("priority_suggested_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_demands_priority_suggested_by_users"),
        "demands",
        "users",
        ["priority_suggested_by"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_demands_suggested_priority_range"), "demands", "suggested_priority BETWEEN 1 AND 4"
    )
    op.create_check_constraint(
        op.f("ck_demands_suggestion_has_author"),
        "demands",
        "(suggested_priority IS NULL) = (priority_suggested_by IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_demands_suggestion_has_author"), "demands", type_="check")
    op.drop_constraint(op.f("ck_demands_suggested_priority_range"), "demands", type_="check")
    op.drop_constraint(
        op.f("fk_demands_priority_suggested_by_users"), "demands", type_="foreignkey"
    )
    op.drop_column("demands", "priority_suggested_by")
    op.drop_column("demands", "suggested_priority")
