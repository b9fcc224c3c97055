"""Person search by words: each person's name words (an array, GIN-indexed) and the
dictionary of every name word (trigram-indexed), kept by statement-level triggers on
persons. Finding the words close to a typed one in the dictionary, then the persons who
have one for every word typed, costs a few milliseconds at a million persons where the
trigram scan of every full name cost tens.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME_WORDS = (
    "string_to_array(siao_name_key(first_name || ' ' || last_name || ' ' || "
    "coalesce(usage_name, '')), ' ')"
)

# One INSERT per statement that adds or renames persons (transition tables), whatever the
# number of rows: words already known are skipped.
ADD_WORDS = """
CREATE FUNCTION add_name_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO name_words (word)
  SELECT DISTINCT w FROM changed, unnest(changed.name_words) AS w WHERE w <> ''
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "persons",
        sa.Column(
            "name_words",
            postgresql.ARRAY(sa.Text()),
            sa.Computed(NAME_WORDS, persisted=True),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_persons_name_words", "persons", ["name_words"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "name_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_name_words")),
    )
    op.create_index(
        "ix_name_words_trgm",
        "name_words",
        ["word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.execute(
        "INSERT INTO name_words (word) SELECT DISTINCT w FROM persons, unnest(name_words) AS w "
        "WHERE w <> ''"
    )
    op.execute(ADD_WORDS)
    op.execute(
        "CREATE TRIGGER person_name_words_added AFTER INSERT ON persons "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION add_name_words()"
    )
    op.execute(
        "CREATE TRIGGER person_name_words_changed AFTER UPDATE ON persons "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION add_name_words()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER person_name_words_changed ON persons")
    op.execute("DROP TRIGGER person_name_words_added ON persons")
    op.execute("DROP FUNCTION add_name_words()")
    op.drop_index("ix_name_words_trgm", table_name="name_words")
    op.drop_table("name_words")
    op.drop_index("ix_persons_name_words", table_name="persons")
    op.drop_column("persons", "name_words")
