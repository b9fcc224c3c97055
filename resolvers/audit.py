"""The change log: reading actors, and writing audit events inside the caller's transaction
(invariant 4: no change without its trace, no trace without its change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import (
    AUDITED_HOUSEHOLD_LINKS,
    AUDITED_PARTS,
    CRITERIA_FIELD,
    LOGGED_READS,
    RESTRICTED_KEY,
    UNKNOWN_FIELD,
    Access,
    Category,
    audited_fields,
)
from models import AuditEvent
from resolvers.arguments import field_of
from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.loaders import Later, now_or_later
from resolvers.node import decode_uuid
from resolvers.record_loaders import AuditFilter


def actor(ctx: Context, user_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.user_by_id, user_id)


MASKED = RESTRICTED_KEY


def visible_changes(
    ctx: Context,
    entity_type: str,
    household_id: uuid.UUID | None,
    changes: dict[str, Any],
    linked_households: Iterable[uuid.UUID] | None = None,
) -> dict[str, Any]:
    """`changes` as this viewer may see them:
    - a field whose category (`audited_fields()`) the viewer may read shows its before and
      after; reading a logged category (`LOGGED_READS`) here is an access like any other;
    - the fields of a category it may not read are left out, and the category is listed,
      once, under `"restricted"` (`["HEALTH", "NOTES"]`; a field the policy does not know:
      `"UNKNOWN"`): something of that category changed, not which field, nor from what
      to what;
    - a field split by the categories of its parts (`AUDITED_PARTS`) shows the parts the
      viewer may read: an evaluation's `criteria` as `criteria`, `healthCriteria` and
      `violenceCriteria` (the fields of `Evaluation`), its `sections` without the
      sections the viewer may not read. Every part's category counts as changed whenever
      the field did, whatever it holds (a HEALTH marker only when a health criterion was
      checked would say that one was);
    - a field naming another household (`AUDITED_HOUSEHOLD_LINKS`: where a member went,
      where she came from) shows only when that household is in `linked_households`
      (those of the event the viewer may see, `resolvers.record_loaders
      .linked_households`), else it is left out.

    Threat stopped: the change log, readable by more viewers than the data it records (the
    household reads it, not its notes; the SIAO, not its health), serving that data in its
    before/after values, in the names of the fields that changed (a `dueDate` that changed
    says a pregnancy), in a criterion, or in the id of the household a member fled to."""
    viewer = ctx.authenticated
    fields = audited_fields().get(entity_type, {})
    links = AUDITED_HOUSEHOLD_LINKS.get(entity_type, ())
    linked = {str(h) for h in linked_households or ()}
    restricted: set[str] = set()
    read: set[Category] = set()

    def readable(category: Category | None) -> bool:
        if category is None:
            return True
        if viewer.may(category, Access.READ):
            read.add(category)
            return True
        restricted.add(category.value)
        return False

    shown: dict[str, Any] = {}
    for name, change in changes.items():
        if name not in fields:
            restricted.add(UNKNOWN_FIELD)
        elif not readable(fields[name]):
            continue
        elif (entity_type, name) in AUDITED_PARTS:
            shown |= _parts(entity_type, name, change, readable)
        elif name in links:
            if all(_named(v) <= linked for v in (change.get("before"), change.get("after"))):
                shown[name] = change
        else:
            shown[name] = change
    if household_id is not None:
        for category in sorted(read & LOGGED_READS):
            ctx.note_access(household_id, category)
    if restricted:
        shown[RESTRICTED_KEY] = sorted(restricted)
    return shown


def _named(value: Any) -> set[str]:
    """The household ids a link field's value names."""
    return set() if value is None else {str(value)}


def _parts(
    entity_type: str, name: str, change: dict[str, Any], readable: Callable[[Category], bool]
) -> dict[str, Any]:
    """A field split by the categories of its parts (`visible_changes`)."""
    parts = AUDITED_PARTS[(entity_type, name)]
    sides = ("before", "after")
    if (entity_type, name) == ("Evaluation", "criteria"):
        # one list per category, under the name of its field of `Evaluation`
        return {
            field: {
                side: None
                if change.get(side) is None
                else [c for c in change[side] if parts.get(c) is category]
                for side in sides
            }
            for category, field in CRITERIA_FIELD.items()
            if readable(category)
        }
    # an object of parts (a deep evaluation's sections): without the unreadable ones
    kept = {part for part, category in parts.items() if readable(category)}
    return {
        name: {
            side: None
            if change.get(side) is None
            else {k: v for k, v in change[side].items() if k in kept}
            for side in sides
        }
    }


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
