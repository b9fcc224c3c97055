"""The change log: reading actors, and writing audit events inside the caller's transaction
(invariant 4: no change without its trace, no trace without its change)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent
from resolvers.context import Context
from resolvers.loaders import now_or_later


def actor(ctx: Context, user_id: uuid.UUID) -> Any:
    return now_or_later(ctx.loaders.user_by_id, user_id)


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
