"""Person search: a normalised name key (accents, case, apostrophes and separators
removed), computed by the database and indexed for trigram similarity.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:36:36.955629
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# `unaccent` is not IMMUTABLE (its dictionary could change), so a generated column cannot
# call it directly: this wrapper pins the dictionary, the usual PostgreSQL idiom. The query
# side calls the same function, so both sides are normalised identically.
NAME_KEY_FUNCTION = r"""
CREATE FUNCTION siao_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT btrim(regexp_replace(
           regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, name)),
                          '[''’`]', '', 'g'),
           '[^a-z0-9]+', ' ', 'g'))
$$
"""


def upgrade() -> None:
    op.execute(NAME_KEY_FUNCTION)
    op.add_column(
        "persons",
        sa.Column(
            "name_key",
            sa.Text(),
            sa.Computed(
                "siao_name_key(first_name || ' ' || last_name || ' ' || coalesce(usage_name, ''))",
                persisted=True,
            ),
            nullable=False,
        ),
    )
    op.create_index("ix_persons_birth_date", "persons", ["birth_date"], unique=False)
    op.create_index(
        "ix_persons_name_key_trgm",
        "persons",
        ["name_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name_key": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index(
        "ix_persons_name_key_trgm",
        table_name="persons",
        postgresql_using="gin",
        postgresql_ops={"name_key": "gin_trgm_ops"},
    )
    op.drop_index("ix_persons_birth_date", table_name="persons")
    op.drop_column("persons", "name_key")
    op.execute("DROP FUNCTION siao_name_key(text)")
