"""Merging duplicate persons: a survivor pointer on the merged record and the merge log
that lets a merge be undone. The open-membership invariant exempts merged records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:44:41.211986
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


MERGED_CHECK = "AND merged_into_id IS NULL"
# Invariant 1 again, now for persons that were not merged into another record.
MERGED_EXEMPT = """
CREATE OR REPLACE FUNCTION check_person_has_open_membership() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE pid uuid;
BEGIN
  IF coalesce(current_setting('siao.purge', true), '') = 'on' THEN RETURN NULL; END IF;
  IF TG_TABLE_NAME = 'persons' THEN pid := NEW.id;
  ELSIF TG_OP = 'DELETE' THEN pid := OLD.person_id;
  ELSE pid := NEW.person_id; END IF;
  IF EXISTS (SELECT 1 FROM persons WHERE id = pid @@EXEMPT@@) AND NOT EXISTS (
      SELECT 1 FROM memberships WHERE person_id = pid AND upper_inf(validity)) THEN
    RAISE EXCEPTION 'person % has no open membership', pid
      USING ERRCODE = '23514', CONSTRAINT = 'person_has_open_membership';
  END IF;
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "person_merges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kept_id", sa.Uuid(), nullable=False),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_person_merges_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["kept_id"], ["persons.id"], name=op.f("fk_person_merges_kept_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["merged_id"], ["persons.id"], name=op.f("fk_person_merges_merged_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by"], ["users.id"], name=op.f("fk_person_merges_undone_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merges")),
    )
    op.create_index(op.f("ix_person_merges_kept_id"), "person_merges", ["kept_id"], unique=False)
    op.create_index(
        op.f("ix_person_merges_merged_id"), "person_merges", ["merged_id"], unique=False
    )
    op.add_column("persons", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_persons_merged_into_id_persons"), "persons", "persons", ["merged_into_id"], ["id"]
    )

    op.execute(MERGED_EXEMPT.replace("@@EXEMPT@@", MERGED_CHECK))


def downgrade() -> None:
    op.execute(MERGED_EXEMPT.replace("@@EXEMPT@@", ""))
    op.drop_constraint(op.f("fk_persons_merged_into_id_persons"), "persons", type_="foreignkey")
    op.drop_column("persons", "merged_into_id")
    op.drop_index(op.f("ix_person_merges_merged_id"), table_name="person_merges")
    op.drop_index(op.f("ix_person_merges_kept_id"), table_name="person_merges")
    op.drop_table("person_merges")
