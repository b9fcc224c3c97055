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
from resolvers.loaders import Later, then
from schema.info import Info
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
    # the households named by the event's fields that the viewer may see (the loaders')
    linked_households: strawberry.Private[tuple[uuid.UUID, ...]]
    # written with an event naming a household the viewer may not see (`actor_hidden`)
    actor_hidden: strawberry.Private[bool]

    @property
    def household_key(self) -> uuid.UUID | None:
        return self.household_id

    @sensitive(
        Category.AUDIT,
        'Field-level changes: `{"field": {"before": ..., "after": ...}}`, each field shown '
        "only if you may read its category. The fields of a category you may not read are "
        'left out and the category is listed once under `"restricted"` (e.g. '
        '`{"status": {...}, "restricted": ["HEALTH", "NOTES"]}`; `"UNKNOWN"` for a field '
        "the policy does not know): something of that category changed, not which field, "
        "nor from what to what. An evaluation's criteria show as `criteria`, "
        "`healthCriteria` and `violenceCriteria`, and its `sections` without those you "
        "may not read, as the fields of `Evaluation` do. A move's `toHousehold` or "
        "`fromHousehold` shows only when you may see that household. The saves and "
        "attachments of a situation section whose category you may not read are not in "
        "the log you are shown at all (which section of which person was filled in, and "
        "when, is what the category protects).",
    )
    def changes(self, info: Info) -> JSON | None:
        return JSON(
            resolve.visible_changes(
                info.context,
                self.entity_type,
                self.household_id,
                self.recorded,
                self.linked_households,
            )
        )

    @sensitive(
        Category.AUDIT,
        "Who did it; null for changes made by the system, and for the events of a change "
        "that names a household you may not see (who moved her, and closed the household "
        "she left, could point to where she went).",
    )
    def actor(self, info: Info) -> Later[User | None]:
        if self.actor_id is None or self.actor_hidden:
            return None
        return then(resolve.actor(info.context, self.actor_id), user_from_row)


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
        "one, nor in the id of another household). Looking into values is reading them: "
        "the access log records, for each household whose log is searched, a read of "
        "every logged category (HEALTH, VIOLENCE, ...) of the values you may read. At most "
        "200 characters.",
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
        linked_households=tuple(getattr(row, "linked_households", None) or ()),
        actor_hidden=bool(getattr(row, "actor_hidden", True)),
    )
