"""Rights: protected households (violence), identity contact fields, the access log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 03:00:22.704047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("viewer_id", sa.Uuid(), nullable=True),
        sa.Column("viewer_label", sa.String(length=200), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_access_events_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["viewer_id"], ["users.id"], name=op.f("fk_access_events_viewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
    )
    op.create_index(
        "ix_access_events_household_at", "access_events", ["household_id", "at", "id"], unique=False
    )
    op.add_column(
        "households", sa.Column("protected", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("persons", sa.Column("nationality", sa.String(length=60), nullable=True))
    op.add_column("persons", sa.Column("phone", sa.String(length=30), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "phone")
    op.drop_column("persons", "nationality")
    op.drop_column("households", "protected")
    op.drop_index("ix_access_events_household_at", table_name="access_events")
    op.drop_table("access_events")
