"""The change log: reading actors, and writing audit events inside the caller's transaction
(invariant 4: no change without its trace, no trace without its change)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import LOGGED_READS, Access, audited_fields
from models import AuditEvent
from resolvers.arguments import field_of
from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.loaders import now_or_later
from resolvers.node import decode_uuid
from resolvers.record_loaders import AuditFilter


def actor(ctx: Context, user_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.user_by_id, user_id)


MASKED = "restricted"


def visible_changes(
    ctx: Context, entity_type: str, household_id: uuid.UUID | None, changes: dict[str, Any]
) -> dict[str, Any]:
    """`changes` as this viewer may see them: a field whose category (`audited_fields()`) the
    viewer may not read becomes `{"restricted": "<CATEGORY>"}` (unknown fields: `"UNKNOWN"`),
    saying that it changed, never what it was. Reading one of the logged categories here is
    an access like any other (`LOGGED_READS`).

    Threat stopped: the change log, readable by more viewers than the data it records (the
    household reads it, not its notes), serving that data in its before/after values."""
    viewer = ctx.authenticated
    fields = audited_fields().get(entity_type, {})
    shown: dict[str, Any] = {}
    for name, change in changes.items():
        if name not in fields:
            shown[name] = {MASKED: "UNKNOWN"}
            continue
        category = fields[name]
        if category is None:
            shown[name] = change
        elif viewer.may(category, Access.READ):
            if category in LOGGED_READS and household_id is not None:
                ctx.note_access(household_id, category)
            shown[name] = change
        else:
            shown[name] = {MASKED: category.value}
    return shown


TEXT_MAX = 200


def _instant(raw: Any, name: str) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw)
        except ValueError:
            raise bad_input(f"`{name}` is not an ISO 8601 instant.", field="filter") from None
    assert isinstance(raw, datetime)
    return raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)


def audit_filter(raw: Any) -> AuditFilter | None:
    """`Household.auditEvents(filter:)` as a loader key, from strawberry's input object (the
    field's resolver) or from the query's arguments (`resolvers.prefetch`)."""
    if raw is None:
        return None
    actor = field_of(raw, "actor")
    text = field_of(raw, "text")
    if text is not None:
        text = " ".join(str(text).split())
        if len(text) > TEXT_MAX:
            raise bad_input(f"`text` is at most {TEXT_MAX} characters.", field="filter")
    return AuditFilter(
        actor=decode_uuid(actor, "User") if actor else None,
        entity_type=field_of(raw, "entityType", "entity_type") or None,
        action=field_of(raw, "action") or None,
        since=_instant(field_of(raw, "from", "from_"), "from"),
        until=_instant(field_of(raw, "to"), "to"),
        text=text or None,
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{field: {"before", "after"}}` for every field whose value differs."""
    changes: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = _json_value(before.get(name)), _json_value(after.get(name))
        if old != new:
            changes[name] = {"before": old, "after": new}
    return changes


def record(
    session: AsyncSession,
    ctx: Context,
    *,
    at: datetime,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    household_id: uuid.UUID | None,
    changes: dict[str, Any],
) -> None:
    session.add(
        AuditEvent(
            at=at,
            actor_id=ctx.authenticated.user_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            household_id=household_id,
            changes=changes,
            request_id=ctx.request_id,
        )
    )
