"""Checks on what people type, shared by every mutation. Each returns a problem message or
None; mutations turn problems into `userErrors` before anything is written."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime

from models.person import NAME_MAX

EARLIEST_BIRTH = date(1900, 1, 1)
# Characters no text of the service may hold: PostgreSQL refuses NUL in text, and a lone
# surrogate is not Unicode (nor encodable as UTF-8). Refused before any SQL, wherever
# they come from (schema/http.py at the edge, schema/extensions.py for every transport).
FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
FORBIDDEN_TEXT = "Text may not contain the NUL character (U+0000) or a lone UTF-16 surrogate."


def forbidden_text(value: object) -> bool:
    """Whether a string anywhere in `value` (dict keys included) holds NUL or a lone
    surrogate (iterative: no recursion to exhaust)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if FORBIDDEN_CHARACTERS.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def clean_name(value: str) -> str:
    """NFC-normalised, inner whitespace collapsed, trimmed."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def name_problem(value: str | None, *, required: bool) -> str | None:
    if value is None:
        return "is required" if required else None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in value):
        return "contains control or invisible characters"
    cleaned = clean_name(value)
    if not cleaned:
        return "must not be blank" if required else None
    if len(cleaned) > NAME_MAX:
        return f"is longer than {NAME_MAX} characters"
    return None


def birth_date_problem(value: date | None, now: datetime) -> str | None:
    """`now`: the request's instant (`Context.now`)."""
    if value is None:
        return None
    if value < EARLIEST_BIRTH:
        return "is before 1900"
    if value > now.astimezone(UTC).date():
        return "is in the future"
    return None


_LINE_BREAKS = frozenset("\n\r\t")


def clean_text(value: str) -> str:
    """Free text (notes, evaluation sections): NFC-normalised, line breaks kept, trimmed."""
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").strip()


def text_problem(value: str | None, *, max_length: int, required: bool) -> str | None:
    if value is None:
        return "is required" if required else None
    if any(
        unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and ch not in _LINE_BREAKS
        for ch in value
    ):
        return "contains control or invisible characters"
    cleaned = clean_text(value)
    if not cleaned and required:
        return "must not be blank"
    if len(cleaned) > max_length:
        return f"is longer than {max_length} characters"
    return None
