"""Evaluations of households: flash (vulnerability level and criteria) and deep
(structured sections), append-only so that their history is the rows themselves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:42:07.583735
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "FLASH",
                "DEEP",
                name="evaluation_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("vulnerability_level", sa.SmallInteger(), nullable=True),
        sa.Column("criteria", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.Column("sections", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'DEEP') = (sections IS NOT NULL)",
            name=op.f("ck_evaluations_deep_has_sections"),
        ),
        sa.CheckConstraint(
            "(kind = 'FLASH') = (vulnerability_level IS NOT NULL AND criteria IS NOT NULL)",
            name=op.f("ck_evaluations_flash_has_level_and_criteria"),
        ),
        sa.CheckConstraint(
            "criteria <@ ARRAY['CHILDREN_UNDER_3', 'PREGNANCY', 'HEALTH_ISSUE', 'DISABILITY', "
            "'ELDERLY', 'VIOLENCE', 'STREET_TONIGHT', 'NO_RESOURCES']::varchar[]",
            name=op.f("ck_evaluations_known_criteria"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(sections) = 'object' AND sections - ARRAY['housingPath', "
            "'familySituation', 'resources', 'health', 'socialSupport', 'recommendation'] "
            "= '{}'::jsonb",
            name=op.f("ck_evaluations_known_sections"),
        ),
        sa.CheckConstraint(
            "vulnerability_level BETWEEN 1 AND 4", name=op.f("ck_evaluations_level_range")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_evaluations_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_evaluations_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index(
        "ix_evaluations_household_kind_created",
        "evaluations",
        ["household_id", "kind", "created_at", "id"],
        unique=False,
    )
    # History is kept by never changing a recorded evaluation (a purge may still delete).
    op.execute(
        """
        CREATE FUNCTION evaluations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'evaluations are append-only: record a new evaluation instead'
                USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER evaluations_append_only BEFORE UPDATE ON evaluations "
        "FOR EACH ROW EXECUTE FUNCTION evaluations_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER evaluations_append_only ON evaluations")
    op.execute("DROP FUNCTION evaluations_append_only()")
    op.drop_index("ix_evaluations_household_kind_created", table_name="evaluations")
    op.drop_table("evaluations")
