"""`node(id)` and `nodes(ids)`: fetch any object by global id, through the same scoped
loaders as every other path (an out-of-scope object is simply not found); decoding
global ids (also for arguments that `resolvers.prefetch` reads)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from sqlalchemy import Row

from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.loaders import Later, now_or_later

TERRITORY_CODE = re.compile(r"\d{2,3}|2[AB]")


# Type name -> (loader attribute on Loaders, key parser)
def _territory_code(raw: str) -> str:
    """A territory's code is a département's: two or three digits, or 2A/2B (anything else
    reads as a random id, and never reaches SQL)."""
    if not TERRITORY_CODE.fullmatch(raw):
        raise ValueError("not a territory code")
    return raw


def _malformed(global_id: str) -> Exception:
    shown = "".join(c if c.isprintable() else "?" for c in global_id[:60])
    return bad_input(f"Malformed global id `{shown}`.", field="id")


_LOADERS: dict[str, tuple[str, Any]] = {
    "Household": ("household_by_id", uuid.UUID),
    "Person": ("person_by_id", uuid.UUID),
    "Demand": ("demand_by_id", uuid.UUID),
    "AuditEvent": ("audit_event_by_id", uuid.UUID),
    "User": ("user_by_id", uuid.UUID),
    "Organisation": ("organisation_by_id", uuid.UUID),
    "Territory": ("territory_by_code", _territory_code),
    "Membership": ("membership_by_id", uuid.UUID),
    "Structure": ("structure_by_id", uuid.UUID),
    "Place": ("place_by_id", uuid.UUID),
    "Orientation": ("orientation_by_id", uuid.UUID),
    "Stay": ("stay_by_id", uuid.UUID),
    "Evaluation": ("evaluation_by_id", uuid.UUID),
    "Note": ("note_by_id", uuid.UUID),
    "Attachment": ("attachment_by_id", uuid.UUID),
    "Accompaniment": ("accompaniment_by_id", uuid.UUID),
}


NODE_TYPES = frozenset(_LOADERS)
# Ids that are global but name no Node (not fetchable with `node`).
OTHER_ID_TYPES = frozenset({"PersonMerge"})


def decode_id(global_id: str, expected: str | None = None) -> tuple[str, str]:
    """`(type name, raw id)` of a global id; a clear BAD_USER_INPUT error otherwise."""
    try:
        decoded = base64.b64decode(global_id.encode(), validate=True).decode()
        type_name, raw = decoded.split(":", 1)
    except (binascii.Error, UnicodeError, ValueError):
        raise _malformed(global_id) from None
    if type_name not in NODE_TYPES | OTHER_ID_TYPES:
        raise _malformed(global_id)
    if expected is not None and type_name != expected:
        raise bad_input(f"Expected an id of a {expected}, got one of a {type_name}.", field="id")
    return type_name, raw


def decode_uuid(global_id: str, expected: str) -> uuid.UUID:
    _, raw = decode_id(global_id, expected)
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _malformed(global_id) from None


def load_node(ctx: Context, type_name: str, raw: str) -> Later[Row[Any] | None]:
    """The row for (type, raw id), or None when it does not exist or is out of scope."""
    attr, parse = _LOADERS[type_name]
    try:
        key = parse(raw)
    except ValueError:
        return None
    return now_or_later(getattr(ctx.loaders, attr), key)
