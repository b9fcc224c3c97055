"""Field arguments as the loaders' keys want them, whatever way they arrived.

A field's resolver gets strawberry's values (enum members, input objects); `prefetch`
reads the same arguments from the query's selection, where literals arrive as source
text or dicts and variables as coerced values. Both paths turn them into one key with
these functions, so that the prefetched page is the one the resolver asks for.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)


def enum_arg(enum: type[E], raw: Any) -> E | None:
    """A model enum member from a GraphQL enum value (member, literal name or None)."""
    if raw is None:
        return None
    if isinstance(raw, Enum):
        return enum[raw.name]
    return enum[str(raw)]


def field_of(raw: Any, name: str, python_name: str | None = None) -> Any:
    """A field of an input object given as a dict (GraphQL names) or as a strawberry input
    instance (Python names); None when absent."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        return raw.get(name)
    return getattr(raw, python_name or name, None)
