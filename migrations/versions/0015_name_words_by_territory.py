"""The search's dictionary of name words, per territory and exact: the words of the persons
a viewer may search, and no others.

Until now `name_words` held every word of every person, of every territory and protected
household, and never shrank: a name that existed only in another territory, or only in a
protected household the viewer does not accompany, had close words in it, so the search
ran its word query, found nobody, then fell back to the full-name similarity. One more
statement and measurably more time than a name that exists nowhere: an oracle telling
that such a person exists somewhere (issue #11).

Now a row `(territory_code, word)` says that a person whose current household (open
membership) is in that territory and not protected bears that word. Protected
households' words are in no table: the search reads them, at query time, from the
protected households of the territory that the viewer accompanies now (an accompaniment
ends with time, which no trigger sees), found through `ix_households_protected`.

Triggers keep the dictionary exact as persons come, go and change:
- a membership opening (INSERT, per statement; or reopening) adds the person's words to
  her household's territory, unless the household is protected;
- a membership closing, deleted or moved to another person or household, a person's
  names changing, a household becoming protected or changing territory, remove each word
  that no visible person of the territory bears any more (`name_words_forget` checks
  through the GIN index on `persons.name_words`).

What that costs a write, at 200,000 persons: closing the membership of a Martin (2,197
bearers) 3.7 ms in its trigger, renaming a person 2.8 ms, protecting a household of four
3.5 ms (each word removed is checked through the GIN index on `persons.name_words`); a
membership opening, one INSERT per statement. createDemand, the evening rush's write,
fires none of them.

Two transactions removing the last two bearers of a word at the same instant can each see
the other's bearer and both keep the word (searching it then costs the full-name way, one
statement more, as it did for every hidden name before this revision, until a bearer
comes back: `resolvers/search.py`); one adding a bearer while another removes the last
one can lose the word until its next bearer comes (the person is then found by the
full-name similarity).

The trigram index is on `(territory_code, word)` (btree_gin): finding the words close to a
typed one reads only the territory's, 0.8 ms at 200,000 persons where the trigram index on
the words alone, filtered by territory afterwards, took 6 ms.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The words a territory's searchers may find: persons of its unprotected households.
VISIBLE_WORDS = """
    SELECT DISTINCT h.territory_code, w
    FROM persons p
    JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
    JOIN households h ON h.id = m.household_id AND NOT h.protected,
    unnest(p.name_words) AS w
    WHERE w <> ''
"""

FUNCTIONS = (
    """
    CREATE FUNCTION name_words_learn(territory varchar, words text[]) RETURNS void
    LANGUAGE sql AS $$
      INSERT INTO name_words (territory_code, word)
      SELECT DISTINCT territory, w FROM unnest(words) AS w WHERE w <> '' ORDER BY 2
      ON CONFLICT DO NOTHING
    $$
    """,
    """
    CREATE FUNCTION name_words_forget(territory varchar, words text[]) RETURNS void
    LANGUAGE sql AS $$
      DELETE FROM name_words n
      WHERE n.territory_code = territory AND n.word = ANY (words)
        AND NOT EXISTS (
          SELECT 1 FROM persons p
          JOIN memberships m ON m.person_id = p.id AND upper_inf(m.validity)
          JOIN households h ON h.id = m.household_id
          WHERE p.name_words @> ARRAY[n.word] AND h.territory_code = n.territory_code
            AND NOT h.protected)
    $$
    """,
    """
    CREATE FUNCTION memberships_learn_name_words() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO name_words (territory_code, word)
      SELECT DISTINCT h.territory_code, w
      FROM added m
      JOIN households h ON h.id = m.household_id AND NOT h.protected
      JOIN persons p ON p.id = m.person_id,
      unnest(p.name_words) AS w
      WHERE upper_inf(m.validity) AND w <> ''
      ORDER BY 1, 2
      ON CONFLICT DO NOTHING;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION membership_name_words() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND upper_inf(NEW.validity) THEN
        PERFORM name_words_learn(h.territory_code, p.name_words)
        FROM households h, persons p
        WHERE h.id = NEW.household_id AND NOT h.protected AND p.id = NEW.person_id;
      END IF;
      IF upper_inf(OLD.validity) THEN
        PERFORM name_words_forget(h.territory_code, p.name_words)
        FROM households h, persons p
        WHERE h.id = OLD.household_id AND NOT h.protected AND p.id = OLD.person_id;
      END IF;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION person_name_words() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM name_words_learn(h.territory_code, NEW.name_words),
              name_words_forget(h.territory_code, ARRAY(
                SELECT unnest(OLD.name_words) EXCEPT SELECT unnest(NEW.name_words)))
      FROM memberships m JOIN households h ON h.id = m.household_id AND NOT h.protected
      WHERE m.person_id = NEW.id AND upper_inf(m.validity);
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION household_name_words() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      words text[] := ARRAY(
        SELECT DISTINCT w FROM memberships m JOIN persons p ON p.id = m.person_id,
        unnest(p.name_words) AS w
        WHERE m.household_id = NEW.id AND upper_inf(m.validity));
    BEGIN
      IF NOT NEW.protected THEN
        PERFORM name_words_learn(NEW.territory_code, words);
      END IF;
      IF NOT OLD.protected THEN
        PERFORM name_words_forget(OLD.territory_code, words);
      END IF;
      RETURN NULL;
    END
    $$
    """,
)

TRIGGERS = (
    "CREATE TRIGGER memberships_name_words_added AFTER INSERT ON memberships "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
    "EXECUTE FUNCTION memberships_learn_name_words()",
    "CREATE TRIGGER membership_name_words_changed AFTER UPDATE ON memberships FOR EACH ROW "
    "WHEN (upper_inf(OLD.validity) IS DISTINCT FROM upper_inf(NEW.validity) "
    "OR OLD.household_id IS DISTINCT FROM NEW.household_id "
    "OR OLD.person_id IS DISTINCT FROM NEW.person_id) "
    "EXECUTE FUNCTION membership_name_words()",
    "CREATE TRIGGER membership_name_words_deleted AFTER DELETE ON memberships FOR EACH ROW "
    "WHEN (upper_inf(OLD.validity)) EXECUTE FUNCTION membership_name_words()",
    "CREATE TRIGGER person_name_words_changed AFTER UPDATE ON persons FOR EACH ROW "
    "WHEN (OLD.name_words IS DISTINCT FROM NEW.name_words) "
    "EXECUTE FUNCTION person_name_words()",
    "CREATE TRIGGER household_name_words_changed AFTER UPDATE ON households FOR EACH ROW "
    "WHEN (OLD.protected IS DISTINCT FROM NEW.protected "
    "OR OLD.territory_code IS DISTINCT FROM NEW.territory_code) "
    "EXECUTE FUNCTION household_name_words()",
)

# Migration 0011's global dictionary, for the downgrade.
ADD_WORDS_0011 = """
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
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("DROP TRIGGER person_name_words_changed ON persons")
    op.execute("DROP TRIGGER person_name_words_added ON persons")
    op.execute("DROP FUNCTION add_name_words()")
    op.drop_index("ix_name_words_trgm", table_name="name_words")
    op.drop_table("name_words")
    op.create_table(
        "name_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("territory_code", sa.String(length=3), nullable=False),
        # word first: the one-slip variants of a typed word are looked up by word (30
        # searches: 70-83 ms of PostgreSQL for their close words, 86-111 with the
        # territory first, 78-86 for the global dictionary before).
        sa.PrimaryKeyConstraint("word", "territory_code", name=op.f("pk_name_words")),
    )
    op.execute(f"INSERT INTO name_words (territory_code, word) {VISIBLE_WORDS}")
    # Built after the rows are in: filled through it, a GIN index keeps them in its pending
    # list (scanned whole by every search, 7 ms per typed word at 200,000 persons, and the
    # planner then prefers reading the territory's whole dictionary) until a VACUUM.
    op.create_index(
        "ix_name_words_territory_trgm",
        "name_words",
        ["territory_code", "word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.execute("ANALYZE name_words")
    op.create_index(
        "ix_households_protected",
        "households",
        ["territory_code", "id"],
        unique=False,
        postgresql_where=sa.text("protected"),
    )
    for function in FUNCTIONS:
        op.execute(function)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    op.execute("DROP TRIGGER household_name_words_changed ON households")
    op.execute("DROP TRIGGER person_name_words_changed ON persons")
    op.execute("DROP TRIGGER membership_name_words_deleted ON memberships")
    op.execute("DROP TRIGGER membership_name_words_changed ON memberships")
    op.execute("DROP TRIGGER memberships_name_words_added ON memberships")
    for function in (
        "household_name_words()",
        "person_name_words()",
        "membership_name_words()",
        "memberships_learn_name_words()",
        "name_words_forget(varchar, text[])",
        "name_words_learn(varchar, text[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_index("ix_households_protected", table_name="households")
    op.drop_index("ix_name_words_territory_trgm", table_name="name_words")
    op.drop_table("name_words")
    op.create_table(
        "name_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_name_words")),
    )
    op.execute(
        "INSERT INTO name_words (word) SELECT DISTINCT w FROM persons, unnest(name_words) AS w "
        "WHERE w <> ''"
    )
    op.create_index(
        "ix_name_words_trgm",
        "name_words",
        ["word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.execute("ANALYZE name_words")
    op.execute(ADD_WORDS_0011)
    op.execute(
        "CREATE TRIGGER person_name_words_added AFTER INSERT ON persons "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION add_name_words()"
    )
    op.execute(
        "CREATE TRIGGER person_name_words_changed AFTER UPDATE ON persons "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION add_name_words()"
    )
    # btree_gin stays: it may have been there before, and others may use it since.
