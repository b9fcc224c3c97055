"""`node(id)` and `nodes(ids)`: fetch any object by global id, through the same scoped
loaders as every other path (an out-of-scope object is simply not found)."""

from __future__ import annotations

import uuid
from typing import Any

from resolvers.context import Context
from resolvers.loaders import now_or_later

# Type name -> (loader attribute on Loaders, key parser)
_LOADERS: dict[str, tuple[str, Any]] = {
    "Household": ("household_by_id", uuid.UUID),
    "Person": ("person_by_id", uuid.UUID),
    "Demand": ("demand_by_id", uuid.UUID),
    "AuditEvent": ("audit_event_by_id", uuid.UUID),
    "User": ("user_by_id", uuid.UUID),
    "Organisation": ("organisation_by_id", uuid.UUID),
    "Territory": ("territory_by_code", str),
    "Membership": ("membership_by_id", uuid.UUID),
    "Structure": ("structure_by_id", uuid.UUID),
    "Place": ("place_by_id", uuid.UUID),
    "Orientation": ("orientation_by_id", uuid.UUID),
    "Stay": ("stay_by_id", uuid.UUID),
    "Evaluation": ("evaluation_by_id", uuid.UUID),
}


def load_node(ctx: Context, type_name: str, raw: str) -> Any:
    """The row for (type, raw id), or None when it does not exist or is out of scope."""
    attr, parse = _LOADERS[type_name]
    try:
        key = parse(raw)
    except ValueError:
        return None
    return now_or_later(getattr(ctx.loaders, attr), key)
