"""A situation section's patch, checked and cleaned before `updateHouseholdSituation` saves
it: texts, dates (from 1900; past-only fields not in the future, others at most
`FUTURE_YEARS` ahead), amounts, budget lines, enums and the national register's number
(SNE), as stored (JSON values), or the problems found, each with its `SituationErrorCode`."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from auth.policy import SituationSection
from models.situation import FIELDS, LABEL_MAX, LINES_MAX, MONEY_MAX, TEXT_MAX, FieldSpec, Kind
from resolvers.validation import clean_text, text_problem
from resolvers.writes import Problem

EARLIEST = date(1900, 1, 1)
FUTURE_YEARS = 30  # how far ahead a date (a permit's expiry, an eviction) may be


class SituationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    PERSON_REQUIRED = "PERSON_REQUIRED"
    PERSON_NOT_EXPECTED = "PERSON_NOT_EXPECTED"
    STALE_VERSION = "STALE_VERSION"
    INVALID_SOCIAL_HOUSING_NUMBER = "INVALID_SOCIAL_HOUSING_NUMBER"
    INVALID_DATE = "INVALID_DATE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_TEXT = "INVALID_TEXT"
    INVALID_INPUT = "INVALID_INPUT"


# The national register's number (numéro unique d'enregistrement, SNE): 18 characters,
# the département (3: 001-095, 02A, 02B, 971-976), the year and month of the first
# application (YYMM), then 11 digits or capital letters (sequence and registering
# service). Typed with spaces, dots or dashes as printed on the certificate: those go.
SNE_PATTERN = re.compile(
    r"^(?P<dept>0(?:0[1-9]|[1-8][0-9]|9[0-5])|02A|02B|97[1-6])"
    r"(?P<yy>[0-9]{2})(?P<mm>0[1-9]|1[0-2])[0-9A-Z]{11}$"
)
SNE_EXAMPLE = "075 24 03 12345 67890 A"
_SNE_SEPARATORS = re.compile(r"[\s.\-]")


def normalise_sne_number(raw: str, today: date) -> tuple[str | None, str | None]:
    """(normalised number, None) or (None, why it is not one)."""
    value = _SNE_SEPARATORS.sub("", raw).upper()
    match = SNE_PATTERN.match(value)
    if match is None:
        return None, (
            "is not a national register number: 18 characters, the département (e.g. 075, "
            f"02A, 971), the year and month of application, then 11 digits or letters, "
            f"e.g. {SNE_EXAMPLE}"
        )
    applied = (2000 + int(match["yy"]), int(match["mm"]))
    if applied > (today.year, today.month):
        return None, "gives a month of application in the future"
    return value, None


def _problem(code: SituationErrorCode, name: str, message: str) -> Problem:
    return Problem(code, f"{name} {message}.", ["patch", name])


def _date_problem(spec: FieldSpec, value: date, today: date) -> str | None:
    if value < EARLIEST:
        return "is before 1900"
    if spec.past_only and value > today:
        return "is in the future"
    if value > today + timedelta(days=365 * FUTURE_YEARS):
        return f"is more than {FUTURE_YEARS} years ahead"
    return None


def _money(value: Any) -> tuple[str | None, str | None]:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None, "is not an amount"
    if not amount.is_finite():
        return None, "is not an amount"
    if amount < 0:
        return None, "is negative"
    if amount > MONEY_MAX:
        return None, f"is more than {MONEY_MAX:,} euros"
    if amount != amount.quantize(Decimal("0.01")):
        return None, "has more than 2 decimals"
    return str(amount.quantize(Decimal("0.01"))), None


def _lines(name: str, spec: FieldSpec, raw: list[Any]) -> tuple[list[Any], list[Problem]]:
    if len(raw) > LINES_MAX:
        return [], [
            _problem(SituationErrorCode.INVALID_INPUT, name, f"has more than {LINES_MAX} lines")
        ]
    lines: list[dict[str, Any]] = []
    problems: list[Problem] = []
    assert spec.enum is not None
    for i, line in enumerate(raw):
        kind, amount, label = line["kind"], line["amount"], line.get("label")
        stored, why = _money(amount)
        if why:
            problems.append(
                Problem(
                    SituationErrorCode.INVALID_AMOUNT,
                    f"{name}[{i}].amount {why}.",
                    ["patch", name, str(i), "amount"],
                )
            )
            continue
        entry: dict[str, Any] = {"kind": spec.enum(kind).value, "amount": stored}
        if label is not None:
            why = text_problem(label, max_length=LABEL_MAX, required=False)
            if why is None and "\n" in label:
                why = "is on several lines"
            if why:
                problems.append(
                    Problem(
                        SituationErrorCode.INVALID_TEXT,
                        f"{name}[{i}].label {why}.",
                        ["patch", name, str(i), "label"],
                    )
                )
                continue
            if cleaned := clean_text(label):
                entry["label"] = cleaned
        lines.append(entry)
    return lines, problems


def clean_patch(
    section: SituationSection, patch: dict[str, Any], today: date
) -> tuple[dict[str, Any], list[Problem]]:
    """The patch as stored (JSON values; None clears a field), or the problems found.
    `patch` holds only the fields given, with Python values (model enums, dates, Decimal,
    budget lines as dicts)."""
    specs = FIELDS[section]
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in patch.items():
        spec = specs[name]
        if value is None:
            if spec.kind is Kind.HOUSEHOLD_FLAG:
                problems.append(
                    _problem(SituationErrorCode.INVALID_INPUT, name, "is true or false, not null")
                )
            else:
                cleaned[name] = None
            continue
        kind = spec.kind
        if kind is Kind.TEXT:
            why = text_problem(value, max_length=TEXT_MAX, required=False)
            if why:
                problems.append(_problem(SituationErrorCode.INVALID_TEXT, name, why))
            else:
                cleaned[name] = clean_text(value) or None
        elif kind in (Kind.BOOL, Kind.HOUSEHOLD_FLAG):
            cleaned[name] = bool(value)
        elif kind is Kind.DATE:
            why = _date_problem(spec, value, today)
            if why:
                problems.append(_problem(SituationErrorCode.INVALID_DATE, name, why))
            else:
                cleaned[name] = value.isoformat()
        elif kind is Kind.ENUM:
            assert spec.enum is not None
            cleaned[name] = spec.enum(value).value
        elif kind is Kind.ENUM_LIST:
            assert spec.enum is not None
            given = {spec.enum(v) for v in value}
            cleaned[name] = [m.value for m in spec.enum if m in given]
        elif kind is Kind.MONEY:
            stored, why = _money(value)
            if why:
                problems.append(_problem(SituationErrorCode.INVALID_AMOUNT, name, why))
            else:
                cleaned[name] = stored
        elif kind is Kind.LINES:
            lines, line_problems = _lines(name, spec, value)
            problems.extend(line_problems)
            cleaned[name] = lines
        elif kind is Kind.SNE_NUMBER:
            number, why = normalise_sne_number(value, today)
            if why:
                problems.append(
                    _problem(SituationErrorCode.INVALID_SOCIAL_HOUSING_NUMBER, name, why)
                )
            else:
                cleaned[name] = number
    return cleaned, problems
