"""Keyset cursors and page-size limits shared by every connection."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auth.settings import Settings
from resolvers.errors import bad_input

if TYPE_CHECKING:
    from resolvers.loaders import Later

DEFAULT_PAGE = 20


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        at_raw, id_raw = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        at = datetime.fromisoformat(at_raw)
        if at.tzinfo is None:
            raise ValueError
        return at.astimezone(UTC), uuid.UUID(id_raw)
    except (binascii.Error, UnicodeError, ValueError, OverflowError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None


def encode_ranked_cursor(first: bool, at: datetime, row_id: uuid.UUID) -> str:
    """A cursor in a list ordered by a flag first (e.g. pinned notes), then newest."""
    return base64.urlsafe_b64encode(f"{int(first)}|{at.isoformat()}|{row_id}".encode()).decode()


def decode_ranked_cursor(cursor: str | None) -> tuple[bool, datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        flag, rest = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if flag not in ("0", "1"):
            raise ValueError
        at_raw, id_raw = rest.split("|", 1)
        at = datetime.fromisoformat(at_raw)
        if at.tzinfo is None:
            raise ValueError
        return flag == "1", at.astimezone(UTC), uuid.UUID(id_raw)
    except (binascii.Error, UnicodeError, ValueError, OverflowError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None


def encode_key_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_key_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None


def check_first(first: int | None, settings: Settings) -> int:
    """The page size asked for: null (a variable left null) means the default."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > settings.max_page_size:
        raise bad_input(
            f"`first` must be between 0 and {settings.max_page_size}, got {first}.",
            field="first",
            max=settings.max_page_size,
        )
    return first


@dataclass(frozen=True, slots=True)
class ResolvedPage:
    """One page of rows with their cursors; `count` gives the whole list's size (a value
    or an awaitable, computed only if the client asks for `totalCount`)."""

    rows: list[Any]
    cursors: list[str]
    has_next: bool
    count: Callable[[], Later[int]]
