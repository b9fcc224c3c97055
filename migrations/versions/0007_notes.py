"""Notes between professionals: soft-deleted, pinnable until a date, concerning some
members, searched in French (stemming, accents ignored) through a GIN index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 03:50:23.761180
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `french` with the unaccent dictionary in front of the stemmer (the unaccent
    # extension comes from 0001): "hebergement" finds "hébergement".
    op.execute("CREATE TEXT SEARCH CONFIGURATION french_unaccent (COPY = french)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION french_unaccent "
        "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem"
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('french'::regconfig, (title::text || ' ' || body)) || "
                "to_tsvector('french_unaccent'::regconfig, (title::text || ' ' || body))",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("pinned_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pinned_by", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Uuid(), nullable=True),
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
            "(deleted_at IS NULL) = (deleted_by IS NULL)",
            name=op.f("ck_notes_deleted_at_iff_deleted_by"),
        ),
        sa.CheckConstraint(
            "(pinned_until IS NULL) = (pinned_at IS NULL)",
            name=op.f("ck_notes_pinned_until_iff_pinned_at"),
        ),
        sa.CheckConstraint("length(body) <= 20000", name=op.f("ck_notes_body_length")),
        sa.CheckConstraint("length(btrim(body)) > 0", name=op.f("ck_notes_body_not_blank")),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_notes_title_not_blank")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_notes_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"], ["users.id"], name=op.f("fk_notes_deleted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_notes_household_id_households")
        ),
        sa.ForeignKeyConstraint(["pinned_by"], ["users.id"], name=op.f("fk_notes_pinned_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(
        "ix_notes_household_created", "notes", ["household_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_notes_search", "notes", ["search"], unique=False, postgresql_using="gin")
    op.create_table(
        "note_persons",
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_note_persons_note_id_notes")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_note_persons_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("note_id", "person_id", name=op.f("pk_note_persons")),
    )
    op.create_index(op.f("ix_note_persons_person_id"), "note_persons", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_note_persons_person_id"), table_name="note_persons")
    op.drop_table("note_persons")
    op.drop_index("ix_notes_search", table_name="notes", postgresql_using="gin")
    op.drop_index("ix_notes_household_created", table_name="notes")
    op.drop_table("notes")
    op.execute("DROP TEXT SEARCH CONFIGURATION french_unaccent")
