"""Current memberships by person (a partial index with the household): the person search
joins each name candidate to its current household, which otherwise goes through the GiST
exclusion index at about a millisecond a probe at a million persons.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 05:12:06.271309
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_memberships_open_person",
        "memberships",
        ["person_id"],
        unique=False,
        postgresql_include=["household_id"],
        postgresql_where=sa.text("upper_inf(validity)"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_memberships_open_person",
        table_name="memberships",
        postgresql_include=["household_id"],
        postgresql_where=sa.text("upper_inf(validity)"),
    )
