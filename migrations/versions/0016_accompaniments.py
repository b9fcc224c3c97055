"""Accompaniments as first-class dated facts: a role, who started and who ended them, why.

Until now an accompaniment was added only by `createHousehold` (its social worker) or
carried by a move, and nothing ended one. The SIAO now starts, transfers and ends them
(`startAccompaniment`, `transferAccompaniment`, `endAccompaniment`), so each row says:
- `role`: référent de parcours (PATH_REFERENT, what every existing row was), structure
  d'hébergement (HOSTING_STRUCTURE) or partner service (PARTNER_SERVICE);
- `started_by`: who started it (existing rows: the actor of its change-log event);
- `ended_by`, `end_reason`, `end_comment`: who ended it, why, and a comment (the end
  itself is the upper bound of `validity`, as before).

Invariant: one organisation never accompanies a household twice over overlapping periods
(`accompaniment_no_overlap`, an exclusion constraint through btree_gist, installed by
0001), so that two concurrent starts for the same organisation leave exactly one. Rows of
the same organisation that overlapped before this revision (a move could carry one
worker's accompaniment and add another worker's of the same organisation) are merged
first, losing no access: the earlier row stretches over both periods and the later one
goes (the organisation's row opens the household to all its workers); its named referent
moves onto the earlier row when that one names nobody.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROLES = ("PATH_REFERENT", "HOSTING_STRUCTURE", "PARTNER_SERVICE")
END_REASONS = (
    "FOLLOW_UP_COMPLETED",
    "TRANSFERRED",
    "HOUSEHOLD_LEFT",
    "ENTERED_IN_ERROR",
    "OTHER",
)

# One pair of rows of the same organisation and household whose periods overlap, the
# earlier first.
_OVERLAP = """
SELECT a.id AS kept, b.id AS later
FROM accompaniments a JOIN accompaniments b
  ON a.household_id = b.household_id AND a.organisation_id = b.organisation_id
 AND a.validity && b.validity AND a.id <> b.id
 AND (lower(a.validity), a.id) < (lower(b.validity), b.id)
ORDER BY lower(a.validity), a.id, lower(b.validity), b.id
LIMIT 1
"""


def _merge_overlaps() -> None:
    """The earlier row stretches over both periods and the later one goes: the earlier
    row's organisation already opens the household to all its workers, so no access is
    lost; the later row's named referent moves onto the earlier row when it names nobody.
    (Not kept as a user-only row: that would go on opening the household to its worker
    after the organisation's accompaniment ends.)"""
    bind = op.get_bind()
    while (pair := bind.execute(sa.text(_OVERLAP)).first()) is not None:
        bind.execute(
            sa.text(
                "UPDATE accompaniments a SET validity = a.validity + b.validity, "
                "user_id = coalesce(a.user_id, b.user_id) "
                "FROM accompaniments b WHERE a.id = :kept AND b.id = :later"
            ),
            {"kept": pair.kept, "later": pair.later},
        )
        bind.execute(sa.text("DELETE FROM accompaniments WHERE id = :later"), {"later": pair.later})


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.add_column(
        "accompaniments",
        sa.Column(
            "role",
            sa.String(length=32),
            server_default="PATH_REFERENT",
            nullable=False,
        ),
    )
    op.add_column("accompaniments", sa.Column("started_by", sa.Uuid(), nullable=True))
    op.add_column("accompaniments", sa.Column("ended_by", sa.Uuid(), nullable=True))
    op.add_column("accompaniments", sa.Column("end_reason", sa.String(length=32), nullable=True))
    op.add_column("accompaniments", sa.Column("end_comment", sa.String(length=2000), nullable=True))
    op.create_check_constraint(
        op.f("ck_accompaniments_accompaniment_role"), "accompaniments", f"role IN ({_in(ROLES)})"
    )
    op.create_check_constraint(
        op.f("ck_accompaniments_accompaniment_end_reason"),
        "accompaniments",
        f"end_reason IN ({_in(END_REASONS)})",
    )
    op.create_check_constraint(
        op.f("ck_accompaniments_end_reason_when_ended"),
        "accompaniments",
        "end_reason IS NULL OR NOT upper_inf(validity)",
    )
    op.create_check_constraint(
        op.f("ck_accompaniments_end_comment_with_reason"),
        "accompaniments",
        "end_comment IS NULL OR end_reason IS NOT NULL",
    )
    op.create_foreign_key(
        op.f("fk_accompaniments_started_by_users"),
        "accompaniments",
        "users",
        ["started_by"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_accompaniments_ended_by_users"), "accompaniments", "users", ["ended_by"], ["id"]
    )
    # Who started the existing ones: the actor of their change-log event.
    op.execute(
        """
        UPDATE accompaniments a SET started_by = e.actor_id
        FROM audit_events e
        WHERE e.entity_id = a.id AND e.entity_type = 'Accompaniment'
          AND e.action IN ('ACCOMPANY', 'CREATE')
        """
    )
    _merge_overlaps()
    op.execute(
        "ALTER TABLE accompaniments ADD CONSTRAINT accompaniment_no_overlap "
        "EXCLUDE USING gist (household_id WITH =, organisation_id WITH =, validity WITH &&)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE accompaniments DROP CONSTRAINT accompaniment_no_overlap")
    op.drop_constraint(op.f("fk_accompaniments_ended_by_users"), "accompaniments")
    op.drop_constraint(op.f("fk_accompaniments_started_by_users"), "accompaniments")
    for name in (
        "end_comment_with_reason",
        "end_reason_when_ended",
        "accompaniment_end_reason",
        "accompaniment_role",
    ):
        op.drop_constraint(op.f(f"ck_accompaniments_{name}"), "accompaniments")
    for column in ("end_comment", "end_reason", "ended_by", "started_by", "role"):
        op.drop_column("accompaniments", column)
