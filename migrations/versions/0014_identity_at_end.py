"""A person's identity as it was when she left a household, kept on the membership.

A person is seen through the household she belongs to now (`auth.visibility`, rule
PERSON). Those who follow a household she left keep its history: the membership and her
identity as it was then, never what was written since (the usage name the new household's
worker set, a new phone). `identity_at_end` holds that identity, written by the database
whenever a membership closes, whatever closes it (a move, a merge, a purge to come), and
cleared if it reopens (an unmerge).

Memberships closed before this revision get the identity rebuilt from the change log:
each field's value is the "before" of its first change after she left, or else its
current value.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# persons column -> the change log's field name
FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "usage_name": "usageName",
    "birth_date": "birthDate",
    "sex": "sex",
    "nationality": "nationality",
    "phone": "phone",
}


def _snapshot(person: str) -> str:
    pairs = ", ".join(f"'{column}', {person}.{column}" for column in FIELDS)
    return (
        f"jsonb_build_object({pairs}, 'version', {person}.version, "
        f"'created_at', {person}.created_at, 'updated_at', {person}.updated_at)"
    )


def upgrade() -> None:
    op.add_column("memberships", sa.Column("identity_at_end", JSONB(), nullable=True))
    op.execute(
        f"""
        CREATE FUNCTION membership_identity_at_end() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF upper_inf(NEW.validity) THEN
                NEW.identity_at_end := NULL;
            ELSIF NEW.identity_at_end IS NULL THEN
                SELECT {_snapshot("p")} INTO NEW.identity_at_end
                FROM persons p WHERE p.id = NEW.person_id;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER membership_identity_at_end
            BEFORE INSERT OR UPDATE OF validity, identity_at_end ON memberships
            FOR EACH ROW EXECUTE FUNCTION membership_identity_at_end();
        """
    )
    later = (
        "FROM audit_events a WHERE a.entity_type = 'Person' AND a.entity_id = m.person_id "
        "AND a.at >= upper(m.validity)"
    )
    rebuilt = ", ".join(
        f"'{column}', COALESCE((SELECT a.changes -> '{name}' -> 'before' {later} "
        f"AND a.changes ? '{name}' ORDER BY a.at, a.id LIMIT 1), to_jsonb(p.{column}))"
        for column, name in FIELDS.items()
    )
    op.execute(
        f"""
        UPDATE memberships m SET identity_at_end = jsonb_build_object({rebuilt},
            'version', p.version - (SELECT count(*) {later} AND a.action = 'UPDATE'),
            'created_at', p.created_at,
            'updated_at', LEAST(p.updated_at, upper(m.validity)))
        FROM persons p
        WHERE p.id = m.person_id AND NOT upper_inf(m.validity)
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER membership_identity_at_end ON memberships")
    op.execute("DROP FUNCTION membership_identity_at_end()")
    op.drop_column("memberships", "identity_at_end")
