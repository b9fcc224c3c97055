"""The household's situation, section by section: one row per (household or person,
section) with its fields as JSON (only the section's known keys) and its own version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 04:49:53.964804
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# The keys each section's JSON may hold (a copy as of this revision: models.situation).
KNOWN_KEYS = {
    "HOUSING_STEPS": [
        "socialHousingNumber",
        "socialHousingAppliedOn",
        "daloStatus",
        "daloFiledOn",
        "daloDecidedOn",
        "comment",
    ],
    "HOUSING_PRECARITY": [
        "livingSituation",
        "since",
        "evictionProcedure",
        "evictionDate",
        "comment",
    ],
    "ACTIVITY": ["status", "since", "registeredJobSeeker", "comment"],
    "BUDGET": ["resources", "charges", "debts", "overindebtednessFile", "comment"],
    "ADMINISTRATIVE": ["residenceStatus", "permitExpiresOn", "hasIdentityDocument", "comment"],
    "MEDICO_SOCIAL": [
        "healthCoverage",
        "pregnant",
        "dueDate",
        "disability",
        "disabilityRecognised",
        "addiction",
        "followUp",
    ],
    "VIOLENCE": ["victim", "kinds", "protectionOrder", "comment"],
}


def _known_keys_check() -> str:
    branches = " ".join(
        f"WHEN '{section}' THEN data - ARRAY[{', '.join(repr(k) for k in keys)}]"
        "::text[] = '{}'::jsonb"
        for section, keys in KNOWN_KEYS.items()
    )
    return f"jsonb_typeof(data) = 'object' AND CASE section {branches} ELSE false END"


def upgrade() -> None:
    op.create_table(
        "situation_sections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column(
            "section",
            sa.Enum(
                "HOUSING_STEPS",
                "HOUSING_PRECARITY",
                "ACTIVITY",
                "BUDGET",
                "ADMINISTRATIVE",
                "MEDICO_SOCIAL",
                "VIOLENCE",
                name="situation_section",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "saved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("saved_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(person_id IS NOT NULL) = (section IN ('ACTIVITY', 'ADMINISTRATIVE', 'MEDICO_SOCIAL'))"
            " AND (household_id IS NULL) = (person_id IS NOT NULL)",
            name=op.f("ck_situation_sections_owner_matches_section"),
        ),
        sa.CheckConstraint(_known_keys_check(), name=op.f("ck_situation_sections_known_keys")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_situation_sections_version_positive")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_situation_sections_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_situation_sections_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["saved_by"], ["users.id"], name=op.f("fk_situation_sections_saved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_situation_sections")),
    )
    op.create_index(
        "uq_situation_sections_household_section",
        "situation_sections",
        ["household_id", "section"],
        unique=True,
        postgresql_where=sa.text("household_id IS NOT NULL"),
    )
    op.create_index(
        "uq_situation_sections_person_section",
        "situation_sections",
        ["person_id", "section"],
        unique=True,
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_situation_sections_person_section",
        table_name="situation_sections",
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_situation_sections_household_section",
        table_name="situation_sections",
        postgresql_where=sa.text("household_id IS NOT NULL"),
    )
    op.drop_table("situation_sections")
