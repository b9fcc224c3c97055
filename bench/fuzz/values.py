"""Hostile and plain values for every scalar of the schema, as GraphQL literals, and the
seeded drawing of hypothesis strategies (`draw_many`)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar

import graphql
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as seeded
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from resolvers.node import NODE_TYPES, OTHER_ID_TYPES

T = TypeVar("T")


def global_id(type_name: str, raw: object) -> str:
    return base64.b64encode(f"{type_name}:{raw}".encode("utf-8", "surrogatepass")).decode()


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


CHARACTERS = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(categories=["Cs"]),  # lone surrogates
    st.sampled_from("\x00\x01\x1b\x7f\u200b\u202e\ufeff\uffff'\"\\%_$"),
)
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "\u202eevil"]),
    st.sampled_from(["Hélène N'Diaye", "%", "_", "\\", "'; DROP TABLE persons; --", "\r\n"]),
    st.sampled_from(["7500000001", "9300000050", "75", "93", "2A", "0" * 20, "9" * 20, "-1"]),
    st.sampled_from(["1e309", "null", "\U0001f600", "a" * 5_000, "é" * 70_000]),
)
CURSORS = st.one_of(
    st.sampled_from(["0" * 20, "9" * 20, "-1", "", "=", "!!!", "YQ", "AAAA"]),
    st.integers().map(str).map(b64),
    st.sampled_from([-1, -(10**19), 10**19, 10**20, 2**63]).map(str).map(b64),
    st.builds(
        lambda at, row, flag: b64(f"{flag}{at.isoformat()}|{row}"),
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14))])),
        st.uuids().map(str) | st.text(CHARACTERS, max_size=5),
        st.sampled_from(["", "0|", "1|", "2|"]),
    ),
    st.binary(max_size=30).map(lambda b: base64.urlsafe_b64encode(b).decode()),
)
TEXT = st.one_of(HOSTILE_TEXT, st.text(CHARACTERS, max_size=40), CURSORS, st.dates().map(str))
INTS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 20, 99, 100, 101, 1000, 32767, 32768, -32769]),
    st.sampled_from([2**31 - 1, -(2**31), 2**31, 2**63, -(2**63) - 1, 10**20]),
    st.integers(min_value=-5, max_value=120),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e308, 5e-324, 0.5, 99.99]),
)
DATES = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "2024-13-01", "20240101"]),
    st.sampled_from(["+10000-01-01", "-0001-01-01", "2024-01-01T00:00:00", "1899-12-31"]),
    TEXT,
)
DATETIMES = st.one_of(
    st.builds(
        datetime.isoformat,
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-12)), None])),
    ),
    st.sampled_from(["2024-01-01T25:00:00Z", "2024-01-01T00:00:00+99:00", "now", "2024-01-01"]),
    st.sampled_from(["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999-14:00"]),
    TEXT,
)
DECIMALS = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "-0", "1e100000", "0.1", "1,5", "0x10"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    TEXT,
)
NAMES = st.sampled_from(["a", "b", "text", "value", "section", "_x", "__proto__"])
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)


def literal(value: Any) -> graphql.ValueNode:
    """A Python value (str, int, float, bool, None, list, dict with name keys) as a
    GraphQL literal."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(literal(v) for v in value))
    fields = (
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=literal(v))
        for k, v in value.items()
    )
    return graphql.ObjectValueNode(fields=tuple(fields))


def ids_strategy(real_ids: Sequence[str]) -> st.SearchStrategy[Any]:
    """Global ids: the demo's own, random ones of every type, and malformed ones."""
    types = sorted(NODE_TYPES | OTHER_ID_TYPES)
    raws = st.uuids().map(str) | st.sampled_from(["75", "93", "", "not-a-uuid", "0" * 20])
    random_ids = st.builds(global_id, st.sampled_from([*types, "Nope", ""]), raws | TEXT)
    parts = [random_ids, TEXT, INTS, st.uuids().map(str)]
    if real_ids:
        parts.insert(0, st.sampled_from(sorted(real_ids)))
        parts.insert(0, st.sampled_from(sorted(real_ids)))
    return st.one_of(*parts)


def custom_scalars(real_ids: Sequence[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Strategies of literals for every scalar of the schema (built-in ones included: the
    library's own draw no hostile value)."""
    return {
        "String": TEXT.map(literal),
        "ID": ids_strategy(real_ids).map(literal),
        "Int": INTS.map(literal),
        "Float": (FLOATS | INTS).map(literal),
        "Date": DATES.map(literal),
        "DateTime": DATETIMES.map(literal),
        "Decimal": (DECIMALS | FLOATS | INTS).map(literal),
        "JSON": JSON_VALUES.map(literal),
        "Upload": (TEXT | INTS | JSON_VALUES).map(literal),
    }


PLAIN_TEXT = st.one_of(
    st.sampled_from(["75", "93", "7500000001", "7500000042", "9300000007", "dupont", "Laurent"]),
    st.sampled_from(["hélène", "N'Diaye", "Une note de suivi.", "urgent -logement", "A"]),
    st.text(st.characters(categories=["L", "Zs"]), min_size=1, max_size=12),
)


def plain_scalars() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Values a careful client sends (ids are put right by `_Hoisting`): with them a
    document gets past the input checks to the resolvers and the database."""
    moment = st.datetimes(
        datetime(2024, 1, 1),  # noqa: DTZ001 (bounds are naive; the values get UTC)
        datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
    return {
        "String": PLAIN_TEXT.map(literal),
        "ID": PLAIN_TEXT.map(literal),
        "Int": (st.integers(0, 25) | st.sampled_from([1, 1, 2, 100])).map(literal),
        "Float": st.floats(0, 100).map(literal),
        "Date": st.dates(date(1950, 1, 1), date(2030, 12, 31)).map(date.isoformat).map(literal),
        "DateTime": moment.map(datetime.isoformat).map(literal),
        "Decimal": st.decimals(0, 10_000, places=2).map(str).map(literal),
        "JSON": st.dictionaries(NAMES, PLAIN_TEXT, max_size=3).map(literal),
        "Upload": st.just(literal(None)),
    }


def ids_by_type(real_ids: Iterable[str]) -> dict[str, list[str]]:
    """The harvested global ids by type name; cursors under ""."""
    out: dict[str, list[str]] = {}
    for value in real_ids:
        try:
            type_name = base64.b64decode(value, validate=True).decode().split(":", 1)[0]
        except ValueError:
            type_name = ""
        out.setdefault(type_name if type_name in NODE_TYPES else "", []).append(value)
    return out


# Arguments and input fields that hold an id of a type their name does not say.
ID_NAMES = {"member": "Person", "keepId": "Person", "author": "User", "actor": "User"}


def id_type(name: str) -> str | None:
    """`householdId` -> Household, `concernedPersonIds` -> Person; None: any type."""
    if name in ID_NAMES:
        return ID_NAMES[name]
    stem = name.removesuffix("s").removesuffix("Id")
    stem = stem[:1].upper() + stem[1:]
    return next((t for t in sorted(NODE_TYPES) if stem.endswith(t)), None)


def draw_many(strategy: st.SearchStrategy[T], count: int, seed: int) -> list[T]:
    """`count` values of `strategy`, the same for the same seed: hypothesis's generation
    only (no database, no shrinking: every value is used, none is a failure)."""
    out: list[T] = []
    attempt = 0
    while len(out) < count and attempt < 5:

        @seeded(seed * 7919 + attempt)
        @hypothesis_settings(
            max_examples=count - len(out),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(value: T) -> None:
            out.append(value)

        collect()
        attempt += 1
    return out[:count]
