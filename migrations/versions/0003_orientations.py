"""Demands, orientations and places: structures' places with vacancies that never go
below zero, orientations, stays, and the kind-specific fields of demands.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:22:36.357311
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "place_type",
            sa.Enum(
                "EMERGENCY",
                "INSERTION",
                "STABILISATION",
                "ADAPTED_HOUSING",
                "HOTEL",
                name="place_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("occupied", sa.Integer(), server_default="0", nullable=False),
        sa.Column("vacancies", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_places_capacity_not_negative")),
        sa.CheckConstraint(
            "occupied >= 0 AND occupied <= capacity",
            name=op.f("ck_places_occupied_within_capacity"),
        ),
        sa.CheckConstraint(
            "vacancies + occupied <= capacity", name=op.f("ck_places_vacancies_within_capacity")
        ),
        sa.CheckConstraint("vacancies >= 0", name=op.f("ck_places_vacancies_not_negative")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_places_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("organisation_id", "place_type", name="uq_places_structure_type"),
    )
    op.create_index(op.f("ix_places_organisation_id"), "places", ["organisation_id"], unique=False)
    op.create_table(
        "orientations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("demand_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("place_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PROPOSED",
                "ACCEPTED",
                "REFUSED",
                "CANCELLED",
                name="orientation_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "refusal_reason",
            sa.Enum(
                "NO_SUITABLE_PLACE",
                "PROFILE_NOT_ADMISSIBLE",
                "HOUSEHOLD_DECLINED",
                "INCOMPLETE_FILE",
                "SAFETY",
                "OTHER",
                name="refusal_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column(
            "proposed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("proposed_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "(status = 'REFUSED') = (refusal_reason IS NOT NULL)",
            name=op.f("ck_orientations_reason_iff_refused"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_orientations_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["demand_id"], ["demands.id"], name=op.f("fk_orientations_demand_id_demands")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_orientations_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_orientations_place_id_places")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"], ["users.id"], name=op.f("fk_orientations_proposed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orientations")),
    )
    op.create_index("ix_orientations_household", "orientations", ["household_id"], unique=False)
    op.create_index(
        "ix_orientations_place_status", "orientations", ["place_id", "status"], unique=False
    )
    op.create_index(
        "uq_orientations_one_open_per_demand",
        "orientations",
        ["demand_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('PROPOSED', 'ACCEPTED')"),
    )
    op.create_table(
        "stays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("demand_id", sa.Uuid(), nullable=False),
        sa.Column("orientation_id", sa.Uuid(), nullable=True),
        sa.Column("place_id", sa.Uuid(), nullable=False),
        sa.Column("validity", postgresql.TSTZRANGE(), nullable=False),
        sa.Column(
            "exit_reason",
            sa.Enum(
                "HOUSING",
                "OTHER_STRUCTURE",
                "END_OF_NIGHT",
                "LEFT",
                "EXCLUDED",
                "OTHER",
                name="exit_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "NOT isempty(validity) AND NOT lower_inf(validity)", name=op.f("ck_stays_bounded_below")
        ),
        sa.CheckConstraint(
            "upper_inf(validity) = (exit_reason IS NULL)",
            name=op.f("ck_stays_exit_reason_iff_ended"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_stays_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["demand_id"], ["demands.id"], name=op.f("fk_stays_demand_id_demands")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_stays_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["orientation_id"],
            ["orientations.id"],
            name=op.f("fk_stays_orientation_id_orientations"),
        ),
        sa.ForeignKeyConstraint(["place_id"], ["places.id"], name=op.f("fk_stays_place_id_places")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stays")),
    )
    op.create_index("ix_stays_household", "stays", ["household_id"], unique=False)
    op.create_index("ix_stays_place", "stays", ["place_id"], unique=False)
    op.add_column(
        "demands", sa.Column("priority", sa.SmallInteger(), server_default="3", nullable=False)
    )
    op.add_column("demands", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("demands", sa.Column("night", sa.Date(), nullable=True))
    op.add_column(
        "demands",
        sa.Column(
            "recommended_place_type",
            sa.Enum(
                "EMERGENCY",
                "INSERTION",
                "STABILISATION",
                "ADAPTED_HOUSING",
                "HOTEL",
                name="recommended_place_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
    )
    op.add_column("demands", sa.Column("commission_date", sa.Date(), nullable=True))
    op.create_index(
        "ix_demands_queue", "demands", ["status", "priority", "submitted_at"], unique=False
    )
    # Existing demands: an emergency was for the night it was made; a submitted one has
    # waited since it was made.
    op.execute(
        "UPDATE demands SET night = (created_at AT TIME ZONE 'Europe/Paris')::date "
        "WHERE kind = 'EMERGENCY'"
    )
    op.execute("UPDATE demands SET submitted_at = created_at WHERE status <> 'DRAFT'")
    op.create_check_constraint(
        "ck_demands_emergency_has_night", "demands", "kind <> 'EMERGENCY' OR night IS NOT NULL"
    )
    op.create_check_constraint("ck_demands_priority_range", "demands", "priority BETWEEN 1 AND 4")


def downgrade() -> None:
    op.drop_constraint("ck_demands_priority_range", "demands", type_="check")
    op.drop_constraint("ck_demands_emergency_has_night", "demands", type_="check")
    op.drop_index("ix_demands_queue", table_name="demands")
    op.drop_column("demands", "commission_date")
    op.drop_column("demands", "recommended_place_type")
    op.drop_column("demands", "night")
    op.drop_column("demands", "submitted_at")
    op.drop_column("demands", "priority")
    op.drop_index("ix_stays_place", table_name="stays")
    op.drop_index("ix_stays_household", table_name="stays")
    op.drop_table("stays")
    op.drop_index(
        "uq_orientations_one_open_per_demand",
        table_name="orientations",
        postgresql_where=sa.text("status IN ('PROPOSED', 'ACCEPTED')"),
    )
    op.drop_index("ix_orientations_place_status", table_name="orientations")
    op.drop_index("ix_orientations_household", table_name="orientations")
    op.drop_table("orientations")
    op.drop_index(op.f("ix_places_organisation_id"), table_name="places")
    op.drop_table("places")
