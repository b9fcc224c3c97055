"""The change log (suivi des modifications)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Row
from strawberry.scalars import JSON

from auth.policy import Category
from resolvers import audit as resolve
from resolvers.loaders import then
from schema.node import Node, encode_id
from schema.organisation import User, user_from_row
from schema.permissions import sensitive


@strawberry.type(description="Who changed what in a household's record, and when.")
class AuditEvent(Node):
    at: datetime = strawberry.field(description="When it happened.")
    action: str = strawberry.field(
        description="What was done: CREATE, UPDATE, ADD_MEMBER, MOVE_IN, MOVE_OUT, CLOSE..."
    )
    entity_type: str = strawberry.field(
        description="The kind of record changed: Household, Person, Membership, Demand..."
    )
    entity_id: strawberry.ID = strawberry.field(description="Global id of the record changed.")
    recorded: strawberry.Private[dict[str, Any]]
    actor_id: strawberry.Private[uuid.UUID | None]
    household_id: strawberry.Private[uuid.UUID | None]

    @property
    def household_key(self) -> uuid.UUID | None:
        return self.household_id

    @sensitive(
        Category.AUDIT,
        'Field-level changes: `{"field": {"before": ..., "after": ...}}`. A field whose '
        'category you may not read shows as `{"restricted": "<CATEGORY>"}`: it '
        "changed, but not from what to what.",
    )
    def changes(self, info: strawberry.Info) -> JSON | None:
        return resolve.visible_changes(  # type: ignore[return-value]
            info.context, self.entity_type, self.household_id, self.recorded
        )

    @sensitive(Category.AUDIT, "Who did it; null for changes made by the system.")
    def actor(self, info: strawberry.Info) -> User | None:
        if self.actor_id is None:
            return None
        return then(resolve.actor(info.context, self.actor_id), user_from_row)  # type: ignore[no-any-return]


@strawberry.input(description="Narrows a household's change log; the criteria add up.")
class AuditFilter:
    actor: strawberry.ID | None = strawberry.field(
        default=None, description="Only what this user did."
    )
    entity_type: str | None = strawberry.field(
        default=None,
        description="Only changes to this kind of record: Household, Person, Membership, "
        "Accompaniment, Demand, Orientation, Stay, Evaluation, Note.",
    )
    action: str | None = strawberry.field(
        default=None, description="Only this action: CREATE, UPDATE, DELETE, PIN, MOVE_IN..."
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only from this instant (included)."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Only before this instant (excluded)."
    )
    text: str | None = strawberry.field(
        default=None,
        description="Words to find (case and accents ignored) in the action, the kind of "
        "record, the actor's name, or a before/after value you may read (never in a masked "
        "one). At most 200 characters.",
    )


def audit_event_from_row(row: Row[Any] | None) -> AuditEvent | None:
    if row is None:
        return None
    return AuditEvent(
        id=encode_id("AuditEvent", row.id),
        at=row.at,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=encode_id(row.entity_type, row.entity_id),
        recorded=row.changes,
        actor_id=row.actor_id,
        household_id=row.household_id,
    )
