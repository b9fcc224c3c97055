"""Household graph foundation: territories, organisations, users, households, persons,
memberships, accompaniments, demands, audit events, and the invariants of DOMAIN.md that
the database itself enforces.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 02:40:52.708132
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for extension in ("pg_trgm", "unaccent", "btree_gist"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    op.execute("CREATE SEQUENCE household_reference_seq START 1000000 MAXVALUE 9999999999")
    op.create_table(
        "territories",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "code ~ '^(\\d{2}|2A|2B|\\d{3})$'", name=op.f("ck_territories_code_format")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_territories")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "SIAO",
                "STRUCTURE",
                "SOCIAL_SERVICE",
                "ASSOCIATION",
                "ADMINISTRATION",
                name="organisation_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("territory_code", sa.String(length=3), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territories.code"],
            name=op.f("fk_organisations_territory_code_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_index(
        op.f("ix_organisations_territory_code"), "organisations", ["territory_code"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("login", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "SOCIAL_WORKER",
                "SIAO_OPERATOR",
                "STRUCTURE_MANAGER",
                "BENEFICIARY",
                "PARTNER",
                "OBSERVER",
                "ADMIN",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("territory_code", sa.String(length=3), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_users_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territories.code"],
            name=op.f("fk_users_territory_code_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "reference",
            sa.String(length=10),
            server_default=sa.text("lpad(nextval('household_reference_seq')::text, 10, '0')"),
            nullable=False,
        ),
        sa.Column("territory_code", sa.String(length=3), nullable=False),
        sa.Column(
            "last_activity_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "reference ~ '^[0-9]{10}$'", name=op.f("ck_households_reference_format")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_households_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territories.code"],
            name=op.f("fk_households_territory_code_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("reference", name=op.f("uq_households_reference")),
    )
    op.create_index(
        op.f("ix_households_territory_code"), "households", ["territory_code"], unique=False
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("usage_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column(
            "sex",
            sa.Enum(
                "FEMALE",
                "MALE",
                "UNSPECIFIED",
                name="sex",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "birth_date >= DATE '1900-01-01'", name=op.f("ck_persons_birth_date_range")
        ),
        sa.CheckConstraint(
            "length(btrim(first_name)) > 0", name=op.f("ck_persons_first_name_not_blank")
        ),
        sa.CheckConstraint(
            "length(btrim(last_name)) > 0", name=op.f("ck_persons_last_name_not_blank")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_persons_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    op.create_table(
        "accompaniments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("validity", postgresql.TSTZRANGE(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "NOT isempty(validity)", name=op.f("ck_accompaniments_validity_not_empty")
        ),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR organisation_id IS NOT NULL",
            name=op.f("ck_accompaniments_someone_accompanies"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_accompaniments_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_accompaniments_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_accompaniments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accompaniments")),
    )
    op.create_index(
        op.f("ix_accompaniments_household_id"), "accompaniments", ["household_id"], unique=False
    )
    op.create_index(
        op.f("ix_accompaniments_organisation_id"),
        "accompaniments",
        ["organisation_id"],
        unique=False,
    )
    op.create_index(op.f("ix_accompaniments_user_id"), "accompaniments", ["user_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_audit_events_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_household_at", "audit_events", ["household_id", "at", "id"], unique=False
    )
    op.create_table(
        "demands",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "EMERGENCY",
                "INSERTION",
                name="demand_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "SUBMITTED",
                "IN_REVIEW",
                "ORIENTED",
                "ACCEPTED",
                "IN_STAY",
                "CLOSED",
                "REFUSED",
                "CANCELLED",
                "PLACED",
                "UNMET",
                name="demand_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_demands_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_demands_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demands")),
    )
    op.create_index(
        "ix_demands_household_created", "demands", ["household_id", "created_at"], unique=False
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column(
            "relationship",
            sa.Enum(
                "REFERENCE_PERSON",
                "SPOUSE",
                "CHILD",
                "PARENT",
                "SIBLING",
                "OTHER_RELATIVE",
                "OTHER",
                name="relationship",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("validity", postgresql.TSTZRANGE(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.column("person_id"), "="),
            (sa.column("validity"), "&&"),
            using="gist",
            name="membership_no_overlap",
        ),
        sa.CheckConstraint(
            "NOT isempty(validity) AND lower_inc(validity) AND NOT lower_inf(validity)",
            name=op.f("ck_memberships_validity_bounded_below"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_memberships_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_memberships_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_memberships_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index(
        "ix_memberships_household_validity",
        "memberships",
        ["household_id", "validity"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "demand_persons",
        sa.Column("demand_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["demand_id"], ["demands.id"], name=op.f("fk_demand_persons_demand_id_demands")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_demand_persons_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("demand_id", "person_id", name=op.f("pk_demand_persons")),
    )
    op.create_index(
        op.f("ix_demand_persons_person_id"), "demand_persons", ["person_id"], unique=False
    )
    op.create_foreign_key("fk_users_person_id_persons", "users", "persons", ["person_id"], ["id"])
    op.create_index("ix_memberships_person_id", "memberships", ["person_id"])
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_id"])
    for statement in INVARIANTS:
        op.execute(statement)


# Deferred constraint triggers: checked at COMMIT, so that a transaction may build a
# household, its persons and memberships in any order. `siao.purge = on` (set only by a
# purge job, inside its own transaction) lets persons be removed with their history.
INVARIANTS = [
    # Invariant 1 (second half): a person always has one open membership.
    """
    CREATE FUNCTION check_person_has_open_membership() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE pid uuid;
    BEGIN
      IF coalesce(current_setting('siao.purge', true), '') = 'on' THEN RETURN NULL; END IF;
      IF TG_TABLE_NAME = 'persons' THEN pid := NEW.id;
      ELSIF TG_OP = 'DELETE' THEN pid := OLD.person_id;
      ELSE pid := NEW.person_id; END IF;
      IF EXISTS (SELECT 1 FROM persons WHERE id = pid) AND NOT EXISTS (
          SELECT 1 FROM memberships WHERE person_id = pid AND upper_inf(validity)) THEN
        RAISE EXCEPTION 'person % has no open membership', pid
          USING ERRCODE = '23514', CONSTRAINT = 'person_has_open_membership';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER person_has_open_membership AFTER INSERT ON persons
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_person_has_open_membership()
    """,
    """
    CREATE CONSTRAINT TRIGGER membership_keeps_person_housed
    AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_person_has_open_membership()
    """,
    # Invariant 2: an active household has at least one current member.
    """
    CREATE FUNCTION check_household_has_member() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE hid uuid;
    BEGIN
      IF coalesce(current_setting('siao.purge', true), '') = 'on' THEN RETURN NULL; END IF;
      IF TG_TABLE_NAME = 'households' THEN hid := NEW.id;
      ELSIF TG_OP = 'DELETE' THEN hid := OLD.household_id;
      ELSE hid := NEW.household_id; END IF;
      IF EXISTS (SELECT 1 FROM households WHERE id = hid AND closed_at IS NULL) AND NOT EXISTS (
          SELECT 1 FROM memberships WHERE household_id = hid AND upper_inf(validity)) THEN
        RAISE EXCEPTION 'active household % has no current member', hid
          USING ERRCODE = '23514', CONSTRAINT = 'household_has_member';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER household_has_member AFTER INSERT OR UPDATE ON households
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_household_has_member()
    """,
    """
    CREATE CONSTRAINT TRIGGER membership_keeps_household_populated
    AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_household_has_member()
    """,
    # Invariant 3: a demand concerns a non-empty subset of its household's members at the
    # time it was made.
    """
    CREATE FUNCTION check_demand_person_is_member() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF NOT EXISTS (
          SELECT 1 FROM demands d JOIN memberships m
            ON m.household_id = d.household_id AND m.validity @> d.created_at
          WHERE d.id = NEW.demand_id AND m.person_id = NEW.person_id) THEN
        RAISE EXCEPTION 'person % was not a member of the household of demand % when it was made',
          NEW.person_id, NEW.demand_id
          USING ERRCODE = '23514', CONSTRAINT = 'demand_person_is_member';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER demand_person_is_member AFTER INSERT OR UPDATE ON demand_persons
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_demand_person_is_member()
    """,
    """
    CREATE FUNCTION check_demand_concerns_someone() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE did uuid;
    BEGIN
      IF coalesce(current_setting('siao.purge', true), '') = 'on' THEN RETURN NULL; END IF;
      IF TG_TABLE_NAME = 'demands' THEN did := NEW.id; ELSE did := OLD.demand_id; END IF;
      IF EXISTS (SELECT 1 FROM demands WHERE id = did)
         AND NOT EXISTS (SELECT 1 FROM demand_persons WHERE demand_id = did) THEN
        RAISE EXCEPTION 'demand % concerns nobody', did
          USING ERRCODE = '23514', CONSTRAINT = 'demand_concerns_someone';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER demand_concerns_someone AFTER INSERT ON demands
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_demand_concerns_someone()
    """,
    """
    CREATE CONSTRAINT TRIGGER demand_keeps_someone AFTER DELETE ON demand_persons
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_demand_concerns_someone()
    """,
]


def downgrade() -> None:
    op.drop_constraint("fk_users_person_id_persons", "users", type_="foreignkey")
    op.drop_index(op.f("ix_demand_persons_person_id"), table_name="demand_persons")
    op.drop_table("demand_persons")
    op.drop_index(
        "ix_memberships_household_validity", table_name="memberships", postgresql_using="gist"
    )
    op.drop_table("memberships")
    op.drop_index("ix_demands_household_created", table_name="demands")
    op.drop_table("demands")
    op.drop_index("ix_audit_events_household_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_accompaniments_user_id"), table_name="accompaniments")
    op.drop_index(op.f("ix_accompaniments_organisation_id"), table_name="accompaniments")
    op.drop_index(op.f("ix_accompaniments_household_id"), table_name="accompaniments")
    op.drop_table("accompaniments")
    op.drop_table("persons")
    op.drop_index(op.f("ix_households_territory_code"), table_name="households")
    op.drop_table("households")
    op.drop_table("users")
    op.drop_index(op.f("ix_organisations_territory_code"), table_name="organisations")
    op.drop_table("organisations")
    op.drop_table("territories")
    op.execute("DROP SEQUENCE household_reference_seq")
    for function in (
        "check_person_has_open_membership",
        "check_household_has_member",
        "check_demand_person_is_member",
        "check_demand_concerns_someone",
    ):
        op.execute(f"DROP FUNCTION {function}()")
