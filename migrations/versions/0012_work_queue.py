"""The SIAO work queue at scale: partial indexes of the waiting demands, in each of the
queue's orders and by household, so that a page is read in order and stopped at its end
(1 ms instead of 370 at a million persons) and the count reads only waiting demands.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 05:31:55.502142
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_demands_waiting_household",
        "demands",
        ["household_id"],
        unique=False,
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_demands_waiting_priority",
        "demands",
        ["priority", "submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_demands_waiting_since",
        "demands",
        ["submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_demands_waiting_since",
        table_name="demands",
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )
    op.drop_index(
        "ix_demands_waiting_priority",
        table_name="demands",
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )
    op.drop_index(
        "ix_demands_waiting_household",
        table_name="demands",
        postgresql_where=sa.text(
            "status IN ('SUBMITTED', 'IN_REVIEW', 'REFUSED') AND submitted_at IS NOT NULL"
        ),
    )
