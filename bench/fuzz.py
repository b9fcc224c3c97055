"""`siao fuzz`: schema-generated GraphQL documents and malformed HTTP requests, sent as
every kind of viewer, each answer checked: never a 5xx, always JSON whose every error
carries an `extensions.code`, never `INTERNAL_SERVER_ERROR`, never Python's own text.

Why a fuzzer: the failures of issue #12 were found by a careless or hostile client, not by
the hand-written tests (a null `first` variable, a NUL in a search, a lone surrogate in
an enum variable, `{"query": "{}"}`, a body that is not UTF-8). Documents come from the
exported schema through hypothesis-graphql, with hostile values (NUL, lone surrogates,
huge and negative integers, 20-digit and random cursors, real ids of the demo data),
inline or as variables (null, absent); malformed requests from a table of known shapes
and from hypothesis (random bytes, random JSON). Hypothesis draws them only (its phases
reduced to `generate`, seeded): every request is sent, every failure kept, and failures
are grouped by cause (status, codes, the server's exception) with the smallest request
of each group as its reproducer.

`siao fuzz [--documents N] [--http N] [--seed S] [--role R ...] [--url URL]` runs against
an app in this process on a fresh demo database (DATABASE_URL's server, or an embedded
one in a temp folder), or against a running dev server (`--url`, tokens minted with the
signing key of its data folder). See docs/fuzzing.md. tests/test_fuzz.py runs a bounded
number of each in the normal test run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import multiprocessing
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import graphql
import httpx
import hypothesis_graphql
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as seeded
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send

from auth.policy import PartnerScope
from auth.settings import Environment, Settings
from auth.tokens import PARTNER_CLAIM, TERRITORY_CLAIM, PartnerGrant, mint_dev_token
from models.demo import DEMO_LOGINS
from resolvers.node import NODE_TYPES, OTHER_ID_TYPES
from schema import SDL_PATH

T = TypeVar("T")
SURROGATE = re.compile("[\ud800-\udfff]")
ENDPOINT = "/graphql"
ANONYMOUS = "anonymous"
# Partner roles: partner:NAME@TERRITORY[/SCOPE,...] ("all": every scope).
PARTNERS = (
    "partner:SYPLO@75/all",
    "partner:SNE@75/identity_min:read,demands:read",
    "partner:ROSALIE@93",
    "partner:SYPLO@2A/all",  # a territory without data
)
ROLES = (ANONYMOUS, *DEMO_LOGINS, *PARTNERS)
# A request that never answers is a failure too; the bound is far above any honest answer.
HANG_SECONDS = 120.0
# Loop turns given to what a request left scheduled before its connections are counted.
SETTLE = 20

HEADER_VALUE = re.compile(rb"([\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")

# --- what every answer must be ---------------------------------------------------------

JSON_TYPES = ("application/json", "application/graphql-response+json")
# Text that only Python (or a driver) writes: a client must never read it.
LEAKS = (
    "Traceback",
    'File "',
    "object has no attribute",
    "arg is an empty sequence",
    "NoneType",
    "is not subscriptable",
    "unexpected keyword argument",
    "positional argument",
    "object at 0x",
    "<class '",
    "codec can't",
    "invalid literal for int()",
    "asyncpg",
    "sqlalchemy",
    "(Background on this error",
    "Internal Server Error",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One HTTP request. `role` names the viewer whose bearer token is added, unless
    `headers` carry their own Authorization."""

    kind: str
    role: str = ANONYMOUS
    method: str = "POST"
    body: bytes = b""
    headers: tuple[tuple[str, str | bytes], ...] = (("content-type", "application/json"),)
    params: tuple[tuple[str, str], ...] = ()

    def sendable(self) -> bool:
        """Whether a real HTTP client sends it (h11's rules): no header value with control
        characters or surrounding spaces, no Content-Length its body belies. The others
        are sent to an app in this process only (over TCP the HTTP server, not the app,
        would answer them)."""
        return "content-length" not in dict(self.headers) and all(
            HEADER_VALUE.fullmatch(_octets(value)) for _, value in self.headers
        )

    def query_string(self) -> str:
        """`?k=v&...`, percent-encoded from UTF-8 (a lone surrogate as the bytes Python's
        "surrogatepass" gives: not UTF-8, as a hostile client may send)."""
        if not self.params:
            return ""
        return "?" + "&".join(
            f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in self.params
        )

    def describe(self, limit: int = 1500) -> str:
        lines = [f"{self.method} {ENDPOINT}{self.query_string()[:limit]}  (as {self.role})"]
        lines += [f"{name}: {value!r}"[:300] for name, value in self.headers]
        if self.body:
            text = self.body[:limit].decode("utf-8", errors="backslashreplace")
            more = f" … ({len(self.body):,} bytes)" if len(self.body) > limit else ""
            lines.append(f"body: {text}{more}")
        return "\n".join(lines)


def problems(case: Case, status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """What is wrong with this answer (empty: nothing). The oracle of every fuzz run."""
    found: list[str] = []
    if status >= 500:
        found.append(f"HTTP {status}")
    if "x-request-id" not in headers:
        found.append("no X-Request-Id")
    if case.method == "HEAD":
        return found
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    accept = dict(case.headers).get("accept", "*/*")  # httpx's default, and browsers'
    ide = case.method == "GET" and not any(k == "query" for k, _ in case.params)
    browser = isinstance(accept, str) and ("text/html" in accept or "*/*" in accept)
    if ide and browser and status == 200 and content_type == "text/html":
        return found  # GraphiQL, asked for by a browser
    text = body.decode("utf-8", errors="replace")
    found += [f"leaks {leak!r}" for leak in LEAKS if leak in text]
    if content_type not in JSON_TYPES:
        found.append(f"not JSON ({content_type or 'no content-type'})")
        return found
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError:
        found.append("body is not JSON")
        return found
    if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
        found.append("not a GraphQL response (no data, no errors)")
        return found
    errors = payload.get("errors")
    if errors is None:
        if status >= 400:
            found.append(f"HTTP {status} without errors")
        return found
    if not isinstance(errors, list) or not errors:
        found.append("errors is not a non-empty list")
        return found
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if not isinstance(code, str) or not code:
            found.append("an error without extensions.code")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append("INTERNAL_SERVER_ERROR")
    return sorted(set(found), key=found.index)


# --- viewers ---------------------------------------------------------------------------


def partner_grant(role: str) -> PartnerGrant:
    """`partner:NAME@TERRITORY[/SCOPE,...]` as a grant ("all": every scope)."""
    who, _, scopes = role.removeprefix("partner:").partition("/")
    name, _, territory = who.partition("@")
    if scopes == "all":
        granted = frozenset(PartnerScope)
    else:
        granted = frozenset(PartnerScope(s) for s in scopes.split(",") if s)
    return PartnerGrant(name=name, scopes=granted, territory=territory)


def tokens_for(settings: Settings, roles: Iterable[str]) -> dict[str, str | None]:
    """A dev token per role (None: anonymous), signed with the data folder's key."""
    tokens: dict[str, str | None] = {}
    for role in roles:
        if role == ANONYMOUS:
            tokens[role] = None
        elif role.startswith("partner:"):
            grant = partner_grant(role)
            tokens[role] = mint_dev_token(settings, f"partner:{grant.name}", partner=grant)
        else:
            tokens[role] = mint_dev_token(settings, role)
    return tokens


def check_role(role: str) -> str:
    if role == ANONYMOUS or role in DEMO_LOGINS:
        return role
    if role.startswith("partner:") and "@" in role:
        try:
            partner_grant(role)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"unknown partner scope in {role}") from exc
        return role
    raise argparse.ArgumentTypeError(
        f"{role}: expected {ANONYMOUS}, a demo login, or partner:NAME@TERRITORY[/SCOPE,...]"
    )


# --- hostile values --------------------------------------------------------------------


def global_id(type_name: str, raw: object) -> str:
    return base64.b64encode(f"{type_name}:{raw}".encode("utf-8", "surrogatepass")).decode()


def _b64(text: str) -> str:
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
    st.integers().map(str).map(_b64),
    st.sampled_from([-1, -(10**19), 10**19, 10**20, 2**63]).map(str).map(_b64),
    st.builds(
        lambda at, row, flag: _b64(f"{flag}{at.isoformat()}|{row}"),
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


# --- documents -------------------------------------------------------------------------


InputField = tuple[graphql.GraphQLInputType, bool, str]  # type, has a default, name


def _input_fields(
    node: graphql.ValueNode, type_: graphql.GraphQLInputType
) -> list[tuple[graphql.ObjectFieldNode, InputField | None]] | None:
    """The fields of an input object literal with their definitions (None: unknown
    field); None when `node` is not an object of an input object type."""
    named = graphql.get_nullable_type(type_)
    if not isinstance(node, graphql.ObjectValueNode):
        return None
    if not isinstance(named, graphql.GraphQLInputObjectType):
        return None
    out: list[tuple[graphql.ObjectFieldNode, InputField | None]] = []
    for f in node.fields:
        definition = named.fields.get(f.name.value)
        if definition is None:
            out.append((f, None))
        else:
            has_default = definition.default_value is not graphql.Undefined
            out.append((f, (definition.type, has_default, f.name.value)))
    return out


@dataclass
class _Hoisting:
    """Moves some argument values of a generated document into variables, as clients do:
    with the declared type, or a nullable one where the argument has a default (allowed,
    and what `demands(first: $f)` with a null `$f` does), then sent, null, or absent."""

    schema: graphql.GraphQLSchema
    rng: random.Random
    # Plain documents: ids of the right type, real cursors (else ids stay as drawn).
    real: dict[str, list[str]] | None = None
    careless: bool = False
    definitions: list[graphql.VariableDefinitionNode] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    def selections(
        self, selection_set: graphql.SelectionSetNode, parent: graphql.GraphQLNamedType
    ) -> graphql.SelectionSetNode:
        out: list[graphql.SelectionNode] = []
        for node in selection_set.selections:
            if isinstance(node, graphql.InlineFragmentNode) and node.type_condition is not None:
                inner = self.schema.get_type(node.type_condition.name.value)
                assert inner is not None
                out.append(
                    graphql.InlineFragmentNode(
                        type_condition=node.type_condition,
                        directives=node.directives,
                        selection_set=self.selections(node.selection_set, inner),
                    )
                )
            elif isinstance(node, graphql.FieldNode) and isinstance(
                parent, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType
            ):
                definition = parent.fields[node.name.value]
                arguments = []
                for arg in node.arguments or ():
                    argument = definition.args[arg.name.value]
                    has_default = argument.default_value is not graphql.Undefined
                    value = self.value(arg.value, argument.type, has_default, arg.name.value)
                    arguments.append(graphql.ArgumentNode(name=arg.name, value=value))
                out.append(
                    graphql.FieldNode(
                        alias=node.alias,
                        name=node.name,
                        arguments=tuple(arguments),
                        directives=node.directives,
                        selection_set=node.selection_set
                        and self.selections(
                            node.selection_set, graphql.get_named_type(definition.type)
                        ),
                    )
                )
            else:
                out.append(node)
        return graphql.SelectionSetNode(selections=tuple(out))

    def value(
        self,
        node: graphql.ValueNode,
        type_: graphql.GraphQLInputType,
        has_default: bool,
        name: str,
    ) -> graphql.ValueNode:
        if self.real is not None:
            node = self.realistic(node, type_, name)
        # A lone surrogate is a syntax error in a GraphQL string: mostly sent as a variable.
        surrogate = SURROGATE.search(graphql.print_ast(node)) is not None
        if surrogate and self.rng.random() < 0.9:
            how = "variable"
        else:
            how = self.rng.choice(["inline", "variable", "descend"])
        if how == "descend" and (fields := _input_fields(node, type_)) is not None:
            return graphql.ObjectValueNode(
                fields=tuple(
                    graphql.ObjectFieldNode(name=f.name, value=self.value(f.value, *field))
                    if field
                    else f
                    for f, field in fields
                )
            )
        if how != "variable":
            return node
        declared: graphql.GraphQLInputType = type_
        if isinstance(type_, graphql.GraphQLNonNull) and has_default and self.rng.random() < 0.5:
            declared = type_.of_type
        variable = graphql.VariableNode(name=graphql.NameNode(value=f"v{len(self.definitions)}"))
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=variable, type=graphql.parse_type(str(declared))
            )
        )
        value = graphql.value_from_ast_untyped(node)
        sent = "value"
        if not isinstance(declared, graphql.GraphQLNonNull):
            sent = self.rng.choice(["value", "value", "null", "absent"])
        elif self.careless:  # a required variable null or missing
            sent = self.rng.choice(["value"] * 4 + ["null", "absent"])
        if sent != "absent":
            self.variables[variable.name.value] = None if sent == "null" else value
        return variable

    def realistic(
        self, node: graphql.ValueNode, type_: graphql.GraphQLInputType, name: str
    ) -> graphql.ValueNode:
        """Ids of the type their name says (`householdId`), real cursors in `after`, full
        pages, down through input objects and lists."""
        assert self.real is not None
        named = graphql.get_nullable_type(type_)
        if (fields := _input_fields(node, type_)) is not None:
            return graphql.ObjectValueNode(
                fields=tuple(
                    graphql.ObjectFieldNode(
                        name=f.name, value=self.realistic(f.value, field[0], field[2])
                    )
                    if field
                    else f
                    for f, field in fields
                )
            )
        if isinstance(node, graphql.ListValueNode) and isinstance(named, graphql.GraphQLList):
            values = tuple(self.realistic(v, named.of_type, name) for v in node.values)
            return graphql.ListValueNode(values=values)
        if isinstance(node, graphql.NullValueNode) or self.rng.random() < 0.1:
            return node
        if name == "after" and self.real.get(""):
            return literal(self.rng.choice(self.real[""]))
        if name == "first" and self.rng.random() < 0.3:
            return literal(100)  # the largest page: nested, the cost limit's business
        if graphql.get_named_type(type_).name != "ID":
            return node
        wanted = id_type(name)
        pool = (
            self.real.get(wanted, [])
            if wanted
            else [i for k, v in self.real.items() if k for i in v]
        )
        return literal(self.rng.choice(pool)) if pool else node


ACCEPTS = (
    None,
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "*/*",
)


@st.composite
def document_cases(
    draw: st.DrawFn,
    schema: graphql.GraphQLSchema,
    documents: st.SearchStrategy[tuple[graphql.DocumentNode, bool]],
    roles: Sequence[str],
    real_ids: Sequence[str] = (),
) -> Case:
    """A generated document as one request: literals or variables, named or not, an
    occasional alias flood, POST (or GET for a query), as one of `roles`."""
    document, plain = draw(documents)
    # The choices below with their stated odds (hypothesis would favour the first option).
    rng = draw(st.randoms(use_true_random=True))
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    root = schema.get_root_type(operation.operation)
    assert root is not None
    hoisting = _Hoisting(
        schema, rng, ids_by_type(real_ids) if plain else None, careless=rng.random() < 0.2
    )
    selections = hoisting.selections(operation.selection_set, root)
    if rng.random() < 0.05:  # many aliases of one root field
        first = selections.selections[0]
        if isinstance(first, graphql.FieldNode):
            copies = rng.choice([2, 31, 200])
            aliased = (
                graphql.FieldNode(
                    alias=graphql.NameNode(value=f"a{i}"),
                    name=first.name,
                    arguments=first.arguments,
                    directives=first.directives,
                    selection_set=first.selection_set,
                )
                for i in range(copies)
            )
            selections = graphql.SelectionSetNode(selections=(*aliased, *selections.selections))
    named = rng.random() < 0.5
    text = graphql.print_ast(
        graphql.DocumentNode(
            definitions=(
                graphql.OperationDefinitionNode(
                    operation=operation.operation,
                    name=graphql.NameNode(value="Fuzz") if named else None,
                    variable_definitions=tuple(hoisting.definitions),
                    selection_set=selections,
                ),
            )
        )
    )
    request: dict[str, Any] = {"query": text}
    empty_variables = rng.random() < 0.5
    if hoisting.variables or empty_variables:
        request["variables"] = hoisting.variables
    if named:
        request["operationName"] = "Fuzz"
    elif rng.random() < 0.5:
        request["operationName"] = None
    role = rng.choice(list(roles))
    accept = rng.choice(ACCEPTS)
    headers: tuple[tuple[str, str | bytes], ...] = (("accept", accept),) if accept else ()
    kind = f"document:{operation.operation.value}:{'plain' if plain else 'hostile'}"
    if operation.operation is graphql.OperationType.QUERY and rng.random() < 0.05:
        params = tuple(
            (k, v if isinstance(v, str) else json.dumps(v))
            for k, v in request.items()
            if v is not None
        )
        if sum(len(v) for _, v in params) < 8000:
            return Case(kind, role, "GET", headers=headers, params=params)
    body = json.dumps(request).encode()  # lone surrogates go out as \ud800 escapes
    return Case(kind, role, body=body, headers=(("content-type", "application/json"), *headers))


@cache
def exported_schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SDL_PATH.read_text())


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


def generate_documents(
    count: int, seed: int, roles: Sequence[str], real_ids: Sequence[str], operations: str = "both"
) -> list[Case]:
    """`count` requests of schema-generated documents, queries and mutations: half with
    plain values (to reach the resolvers), a third with hostile ones, a sixth with one
    schema violation (hypothesis-graphql's negative mode). Most documents select one root
    field, a query or a mutation drawn evenly (the library alone favours a few)."""
    schema = exported_schema()
    groups = [
        list(root.fields)
        for root in (schema.query_type, schema.mutation_type)
        if root is not None and operations in ("both", root.name.lower())
    ]
    roots = [name for group in groups for name in group]

    def documents(**options: Any) -> st.SearchStrategy[graphql.DocumentNode]:
        make = partial(hypothesis_graphql.from_schema, schema, print_ast=lambda d: d, **options)
        alone = [st.one_of([make(fields=[name]) for name in group]) for group in groups]
        return st.one_of(make(fields=roots), *alone)

    hostile = custom_scalars(real_ids)
    plain = documents(custom_scalars=plain_scalars()).map(lambda d: (d, True))
    rough = documents(custom_scalars=hostile).map(lambda d: (d, False))
    negative = hypothesis_graphql.from_schema(  # any root: some alone have nothing to break
        schema,
        fields=roots,
        custom_scalars=hostile,
        mode=hypothesis_graphql.Mode.NEGATIVE,
        print_ast=lambda d: d,
    )
    drawn = st.one_of(plain, plain, plain, rough, rough, negative.map(lambda d: (d, False)))
    return draw_many(document_cases(schema, drawn, roles, real_ids), count, seed)


def _document_batch(job: tuple[int, int, tuple[str, ...], tuple[str, ...], str]) -> list[Case]:
    count, seed, roles, real_ids, operations = job
    return generate_documents(count, seed, roles, real_ids, operations)


# --- malformed HTTP --------------------------------------------------------------------

ME = "{ me { id displayName role } }"
SEARCH = "query S($q: String!) { searchPersons(query: $q) { totalCount } }"
QUEUE = "query Q($f: Int) { demands(first: $f) { totalCount } }"
KIND = "query K($k: DemandKind) { demands(first: 1, filter: {kind: $k}) { totalCount } }"
SUBSCRIPTION = 'subscription { demandChanged(territory: "75") { id } }'
JSON_CT = (("content-type", "application/json"),)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _post(
    kind: str,
    body: bytes | object,
    role: str = ANONYMOUS,
    headers: tuple[tuple[str, str | bytes], ...] = JSON_CT,
) -> Case:
    return Case(
        f"http:{kind}", role, body=body if isinstance(body, bytes) else _json(body), headers=headers
    )


def _multipart(operations: str, mapping: str, files: bytes, boundary: str = "fuzz") -> bytes:
    parts = [("operations", operations.encode()), ("map", mapping.encode())]
    out = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n'.encode() + v + b"\r\n"
        for n, v in parts
    )
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + files
    return out + f"\r\n--{boundary}--\r\n".encode()


def _tokens_that_lie(settings: Settings) -> dict[str, str]:
    """Tokens a hostile client could hold: expired, unknown subject, another key, alg
    none, bad partner claims, and subjects no database column takes."""
    from auth.tokens import load_or_create_dev_key

    now = datetime.now(UTC)
    base = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "iat": now, "nbf": now}
    live = {**base, "exp": now + timedelta(hours=1)}
    key = load_or_create_dev_key(settings)
    none_header = _b64('{"alg":"none","typ":"JWT"}').rstrip("=")
    none_body = _b64(json.dumps({"sub": "admin@demo.siao", "exp": 4102444800})).rstrip("=")
    return {
        "expired": mint_dev_token(settings, "siao.75@demo.siao", ttl=timedelta(minutes=-5)),
        "unknown user": mint_dev_token(settings, "nobody@demo.siao"),
        "NUL in subject": mint_dev_token(settings, "siao.75\x00@demo.siao"),
        "surrogate in subject": mint_dev_token(settings, "\ud800@demo.siao"),
        "huge subject": mint_dev_token(settings, "x" * 100_000),
        "other key": jwt.encode(
            {**live, "sub": "admin@demo.siao"}, Ed25519PrivateKey.generate(), algorithm="EdDSA"
        ),
        "alg none": f"{none_header}.{none_body}.",
        "unknown scope": jwt.encode(
            {**live, "sub": "partner:X", PARTNER_CLAIM: "X", TERRITORY_CLAIM: "75", "scope": "x"},
            key,
            algorithm="EdDSA",
        ),
        "partner territory not a string": jwt.encode(
            {**live, "sub": "partner:X", PARTNER_CLAIM: "X", TERRITORY_CLAIM: 75}, key, "EdDSA"
        ),
        "subject not a string": jwt.encode({**live, "sub": 12}, key, algorithm="EdDSA"),
        "no exp": jwt.encode({**base, "sub": "admin@demo.siao"}, key, algorithm="EdDSA"),
    }


DEEP = "[" * 1000 + "]" * 1000
UPLOAD = (
    'mutation($f: Upload!) { addAttachment(input: {householdId: "x", section: ADMINISTRATIVE, '
    "file: $f}) { userErrors { code } } }"
)
UPLOAD_OPERATIONS = json.dumps({"query": UPLOAD, "variables": {"f": None}})
# Malformed bodies (sent as JSON, anonymous and with a token): name -> bytes.
RAW_BODIES: dict[str, bytes] = {
    "not UTF-8": b'{"query": "\xff\xfe{ __typename }"}',
    "latin-1": '{"query": "{ me { displayName } }", "x": "é"}'.encode("latin-1"),
    "a BOM": b'\xef\xbb\xbf{"query": "{ __typename }"}',
    "UTF-16": json.dumps({"query": ME}).encode("utf-16"),
    "JSON 1000 deep": f'{{"query": "{ME}", "v": {DEEP}}}'.encode(),
    "JSON 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "JSON object 5000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "variables 1000 deep": f'{{"query": "{SEARCH}", "variables": {{"q": {DEEP}}}}}'.encode(),
    "empty": b"",
    "whitespace": b"   \n",
    "truncated": b'{"query": "{ __typename }"',
    "duplicate keys": b'{"query": 1, "query": "{ __typename }"}',
    "NaN": f'{{"query": "{QUEUE}", "variables": {{"f": NaN}}}}'.encode(),
    "1e999999": f'{{"query": "{QUEUE}", "variables": {{"f": 1e999999}}}}'.encode(),
    "5000-digit integer": f'{{"query": "{QUEUE}", "variables": {{"f": {"9" * 5000}}}}}'.encode(),
    "2 MiB": _json({"query": ME, "variables": {"x": "a" * (2 * 1024 * 1024)}}),
}
TWO_OPERATIONS = "query A { __typename } query B { __typename }"
NOT_REQUESTS: tuple[object, ...] = (None, 1, "x", True, [], {}, 1.5, -0.0)
NOT_OBJECTS: tuple[object, ...] = ([], "x", 1, '{"q": ""}')
NOT_STRINGS: tuple[object, ...] = (1, [ME], {"a": 1}, True)
NOT_EXTENSIONS: tuple[object, ...] = ("x", 1, [], {"persistedQuery": {"sha256Hash": "ab"}})
# Requests of a wrong shape or with hostile values (sent as JSON, anonymous and with a
# token): name -> the JSON value.
REQUESTS: dict[str, object] = {
    **{f"body {json.dumps(v)}": v for v in NOT_REQUESTS},
    **{f"query {json.dumps(v)}": {"query": v} for v in (*NOT_STRINGS, None, "")},
    **{f"variables {v!r}": {"query": SEARCH, "variables": v} for v in NOT_OBJECTS},
    **{f"operationName {v!r}": {"query": ME, "operationName": v} for v in NOT_STRINGS},
    **{f"extensions {v!r}": {"query": ME, "extensions": v} for v in NOT_EXTENSIONS},
    "surrogate in an enum variable": {"query": KIND, "variables": {"k": "\ud800"}},
    "surrogate in a string variable": {"query": SEARCH, "variables": {"q": "\udfff"}},
    "NUL in a string variable": {"query": SEARCH, "variables": {"q": "du\x00pont"}},
    "surrogate in the document": {"query": '{ searchPersons(query: "\ud800") { totalCount } }'},
    "surrogate escape": {"query": '{ searchPersons(query: "\\ud800") { totalCount } }'},
    "null first": {"query": QUEUE, "variables": {"f": None}},
    "absent first": {"query": QUEUE, "variables": {}},
    "priority 32768": {"query": "{ demands(first: 1, filter: {priority: 32768}) { totalCount } }"},
    "negative cursor": {
        "query": SEARCH.replace("$q)", '$q, after: "LTE=")'),
        "variables": {"q": "x"},
    },
    "20-digit cursor": {"query": SEARCH.replace("$q)", f'$q, after: "{_b64("9" * 20)}")')},
    "unknown operation name": {"query": "query A { __typename }", "operationName": "B"},
    "two operations, no name": {"query": TWO_OPERATIONS},
    "{}": {"query": "{}"},
    "mutation {}": {"query": "mutation {}"},
    "empty sub-selection": {"query": "{ me {} }"},
    "empty nested sub-selection": {"query": "{ households(first: 1) { edges { node { } } } }"},
    "syntax error": {"query": "{ me { id "},
    "selections 5000 deep": {"query": "{ a" * 5000 + "}" * 5000},
    "list literal 5000 deep": {"query": "{ nodes(ids: " + "[" * 5000 + "]" * 5000 + ") { id } }"},
    "100000 tokens": {"query": "{ " + "__typename " * 100_000 + "}"},
    "5000 aliases": {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(5000)) + " }"},
    "fragment cycle": {"query": "{ ...A } fragment A on Query { ...A }"},
    # 2^24 spreads if each one is expanded; 24, not more: a server that does so blocks
    # its loop (in-process: this one) for seconds per level.
    "fragment fan-out": {
        "query": "{ ...F0 } fragment F24 on Query { __typename } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(24))
    },
    "unknown directive": {"query": "{ me @nope { id } }"},
    "introspection": {"query": graphql.get_introspection_query()},
    "1 MB of whitespace": {"query": " " * 1_000_000 + "{ __typename }"},
    "1 MB of comments": {"query": "#x\n" * 300_000 + ME},
    "a subscription": {"query": SUBSCRIPTION},
    "a batch": [{"query": "{ __typename }"}, {"query": ME}],
    "a batch of 1000": [{"query": ME}] * 1000,
}
# Header sets that do not fit the body: name -> headers (body: `{"query": ME}`).
HEADERS: dict[str, tuple[tuple[str, str | bytes], ...]] = {
    **{
        f"content-type {t!r}": (("content-type", t),)
        for t in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/graphql",
            "",
            "application/json; charset=latin-1",
            "application/xml",
            "a/b/c;;;",
            "multipart/form-data",
        )
    },
    "no content-type": (),
    "a huge Content-Length": (*JSON_CT, ("content-length", "99999999999")),
    "a subscription as multipart": (*JSON_CT, ("accept", 'multipart/mixed;subscriptionSpec="1.0"')),
    "a subscription as event-stream": (*JSON_CT, ("accept", "text/event-stream")),
    "an unknown Accept": (*JSON_CT, ("accept", "application/xml")),
}
GETS: dict[str, tuple[tuple[str, str], ...]] = {
    "a query": (("query", ME),),
    "a mutation": (("query", 'mutation { deleteNote(input: {noteId: "x"}) { deletedNoteId } }'),),
    "a subscription": (("query", SUBSCRIPTION),),
    "variables not JSON": (("query", SEARCH), ("variables", "{not json")),
    "variables a list": (("query", SEARCH), ("variables", "[]")),
    "an empty query": (("query", ""),),
    "no query": (),
    "a NUL query": (("query", "\x00"),),
    "an unknown operation": (("query", ME), ("operationName", "Nope")),
}
MULTIPART: dict[str, bytes] = {
    "operations not JSON": _multipart("{nope", '{"0": ["variables.f"]}', b"%PDF-1.4"),
    "map not JSON": _multipart(UPLOAD_OPERATIONS, "[nope", b"%PDF-1.4"),
    "map to a missing file": _multipart(UPLOAD_OPERATIONS, '{"9": ["variables.f"]}', b"%PDF"),
    "map to a bad path": _multipart(UPLOAD_OPERATIONS, '{"0": ["variables.f.x.y"]}', b"%PDF"),
    "map not an object": _multipart(UPLOAD_OPERATIONS, '["variables.f"]', b"%PDF-1.4"),
    "no closing boundary": _multipart(UPLOAD_OPERATIONS, '{"0": ["variables.f"]}', b"x")[:-12],
    "garbage": b"--fuzz\r\n\x00\xff garbage",
    "empty": b"",
}
AUTHORIZATIONS: dict[str, str | bytes] = {
    "no scheme": "abc",
    "empty": "",
    "Bearer alone": "Bearer",
    "Bearer and spaces": "Bearer    ",
    "Basic": "Basic dXNlcjpwYXNz",
    "garbage token": "Bearer garbage",
    "three dots": "Bearer a.b.c",
    "huge token": "Bearer " + "a" * 100_000,
    "non-latin-1 bytes": b"Bearer \xff\xfe\x00",
}


def http_table(settings: Settings, user: str = "siao.75@demo.siao") -> list[Case]:
    """Malformed requests of known shapes, most of them both anonymous and as `user`
    (authentication comes first, then the rest): each must get a coded JSON answer."""
    cases: list[Case] = []
    for role in (ANONYMOUS, user):
        cases += [_post(f"body {name}", body, role) for name, body in RAW_BODIES.items()]
        cases += [_post(name, request, role) for name, request in REQUESTS.items()]
        cases += [_post(name, {"query": ME}, role, headers) for name, headers in HEADERS.items()]
        for name, params in GETS.items():
            for accept in ("application/json", "text/html"):
                kind = f"http:GET {name} ({accept})"
                cases.append(Case(kind, role, "GET", headers=(("accept", accept),), params=params))
        for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
            cases.append(Case(f"http:method {method}", role, method, _json({"query": ME})))
    tokens = {**AUTHORIZATIONS, **{n: f"Bearer {t}" for n, t in _tokens_that_lie(settings).items()}}
    for name, header in tokens.items():
        authorization = (*JSON_CT, ("authorization", header))
        cases.append(_post(f"Authorization: {name}", {"query": ME}, ANONYMOUS, authorization))
    cases.append(_post("me as a partner", {"query": ME}, "partner:SYPLO@75/all"))
    multipart = (("content-type", "multipart/form-data; boundary=fuzz"),)
    preflight = (*multipart, ("graphql-require-preflight", "1"))
    cases.append(_post("multipart without preflight", MULTIPART["empty"], user, multipart))
    no_boundary = (("content-type", "multipart/form-data"), preflight[1])
    cases.append(_post("multipart without boundary", b"--x\r\n", user, no_boundary))
    cases += [_post(f"multipart: {n}", body, user, preflight) for n, body in MULTIPART.items()]
    return cases


REQUEST_KEYS = st.sampled_from(["query", "variables", "operationName", "extensions"])
# GraphQL's own tokens in random order: for the lexer, the parser and the validation.
SOUP = st.lists(
    st.sampled_from([*'{}()[]:$!@.,"=|&#\n', "...", "query", "mutation", "fragment"])
    | st.sampled_from(["on", "me", "id", "node", "households", "first", "__typename", "$v"])
    | st.sampled_from(["Int", "String!", "[ID!]", "null", "true", "1e9", '"\\u0000"', "@skip"]),
    max_size=60,
).map(" ".join)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/graphql-response+json",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
    ]
)


@st.composite
def random_requests(draw: st.DrawFn, roles: Sequence[str]) -> Case:
    """Random bytes, random JSON, random request-shaped JSON, broken valid bodies, random
    GET parameters and Authorization headers."""
    role = draw(st.sampled_from(list(roles)))
    kind = draw(st.sampled_from(["bytes", "json", "shaped", "broken", "get", "authorization"]))
    content_type = draw(CONTENT_TYPES)
    headers: tuple[tuple[str, str | bytes], ...] = (("content-type", content_type),)
    if content_type.startswith("multipart") and draw(st.booleans()):
        headers += (("graphql-require-preflight", "1"),)
    if kind == "bytes":
        return Case("http:random bytes", role, body=draw(st.binary(max_size=4000)), headers=headers)
    if kind == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
        return Case("http:random JSON", role, body=body, headers=headers)
    if kind == "shaped":
        keys = draw(st.lists(REQUEST_KEYS, unique=True))
        values = JSON_VALUES | SOUP | st.sampled_from([ME, SEARCH, QUEUE, KIND, SUBSCRIPTION])
        request = {k: draw(values) for k in keys}
        return Case("http:random request", role, body=json.dumps(request).encode(), headers=JSON_CT)
    if kind == "broken":
        valid = json.dumps({"query": SEARCH, "variables": {"q": "dupont"}}).encode()
        cut = draw(st.integers(0, len(valid)))
        junk = draw(st.binary(max_size=8))
        return Case("http:broken body", role, body=valid[:cut] + junk + valid[cut + len(junk) :])
    if kind == "get":
        params = draw(st.lists(st.tuples(REQUEST_KEYS, TEXT.map(lambda t: t[:2000])), max_size=4))
        return Case("http:random GET", role, "GET", headers=(), params=tuple(params))
    value = draw(st.binary(max_size=200).map(lambda b: b"Bearer " + b) | TEXT)
    return Case(
        "http:random Authorization",
        ANONYMOUS,
        body=_json({"query": ME}),
        headers=(*JSON_CT, ("authorization", value)),
    )


def generate_http(settings: Settings, count: int, seed: int, roles: Sequence[str]) -> list[Case]:
    """`count` requests: the table (as much as fits), then random ones."""
    table = http_table(settings)[:count]
    return table + draw_many(random_requests(roles), count - len(table), seed)


# --- sending and judging ---------------------------------------------------------------

_LOGS: ContextVar[list[str] | None] = ContextVar("fuzz_logs", default=None)


class _Collect(logging.Handler):
    """Keeps the server's warnings and errors (with tracebacks) of the request being sent."""

    def emit(self, record: logging.LogRecord) -> None:
        bucket = _LOGS.get()
        if bucket is None:
            return
        text = f"{record.levelname} {record.name}: {record.getMessage()}"[:2000]
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(record.exc_info[1]))
        bucket.append(text)


@contextlib.contextmanager
def collecting_logs() -> Iterator[None]:
    handler = _Collect(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def capturing(app: ASGIApp) -> ASGIApp:
    """The app, with what escapes it (after Starlette's plain-text 500) kept like a log."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            bucket = _LOGS.get()
            if bucket is not None:
                bucket.append("escaped the app:\n" + "".join(traceback.format_exception(exc)))
            raise

    return wrapped


def client_for_app(app: ASGIApp) -> httpx.AsyncClient:
    """An HTTP client of the ASGI app in this process (its exceptions become the 500 that
    a server would send, and are kept)."""
    transport = httpx.ASGITransport(app=capturing(app), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://fuzz", timeout=HANG_SECONDS)


@dataclass
class Outcome:
    case: Case
    status: int
    content_type: str
    body: bytes
    problems: list[str]
    logs: list[str]
    seconds: float = 0.0

    @property
    def codes(self) -> list[str]:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            errors = json.loads(self.body).get("errors") or []
            return sorted({str((e.get("extensions") or {}).get("code")) for e in errors})
        return []

    def exception(self) -> str:
        """The server's exception, as `Type: message` and its innermost frame of this
        repository (the cause a failure class is grouped by)."""
        for text in reversed(self.logs):
            lines = text.splitlines()
            raised = [line for line in lines if EXCEPTION_LINE.match(line)]
            frames = [
                line.strip()
                for line in lines
                if line.strip().startswith('File "') and "site-packages" not in line
            ]
            if raised and frames:
                where = re.sub(r'File ".*?([^/]+/[^/]+)", line \d+, in', r"\1:", frames[-1])
                return f"{_normal(raised[-1])[:120]} at {where}"
        return ""

    def signature(self) -> str:
        message = ""
        with contextlib.suppress(ValueError, AttributeError, TypeError, IndexError, KeyError):
            message = str(json.loads(self.body)["errors"][0]["message"])
        if not self.body.lstrip().startswith(b"{"):
            message = self.body[:80].decode("utf-8", "replace")
        cause = self.exception() or _normal(message)[:90]
        return f"{'; '.join(self.problems)} | HTTP {self.status} {','.join(self.codes)} | {cause}"


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


def _normal(text: str) -> str:
    """A message without what varies between requests (quoted values, numbers, ids)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", text)
    return re.sub(r"[0-9a-f]{32}|\d+", "N", text)


def _octets(value: str | bytes) -> bytes:
    """A header value as sent: latin-1 when it can be, else UTF-8 (lone surrogates too)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


async def send(
    client: httpx.AsyncClient, case: Case, tokens: Mapping[str, str | None], path: str = ENDPOINT
) -> Outcome:
    headers = [(name.encode(), _octets(value)) for name, value in case.headers]
    token = tokens.get(case.role)
    if token and not any(name.lower() == "authorization" for name, _ in case.headers):
        headers.append((b"authorization", f"Bearer {token}".encode()))
    bucket: list[str] = []
    mark = _LOGS.set(bucket)
    started = time.perf_counter()
    try:
        response = await asyncio.wait_for(
            client.request(
                case.method, path + case.query_string(), content=case.body or None, headers=headers
            ),
            HANG_SECONDS,
        )
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
        found = [f"no answer ({type(exc).__name__}: {str(exc)[:100]})"]
        seconds = time.perf_counter() - started
        return Outcome(case, 0, "", str(exc).encode(), found, bucket, seconds)
    finally:
        _LOGS.reset(mark)
    seconds = time.perf_counter() - started
    found = problems(case, response.status_code, response.headers, response.content)
    content_type = response.headers.get("content-type", "")
    return Outcome(
        case, response.status_code, content_type, response.content, found, bucket, seconds
    )


@dataclass
class Report:
    """Every answer counted; failures grouped by cause, each with its smallest request."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[Outcome]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # The slowest answers (seconds, kind, role): not a failure, but where to look first.
    slowest: list[tuple[float, str, str]] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.sent[outcome.case.kind.split(":")[0]] += 1
        self.slowest.append((outcome.seconds, outcome.case.kind, outcome.case.role))
        self.slowest = sorted(self.slowest, reverse=True)[:5]
        self.statuses[outcome.status] += 1
        self.codes.update(outcome.codes)
        if not outcome.problems:
            return
        key = outcome.signature()
        self.counts[key] += 1
        kept = self.failures.setdefault(key, [])
        kept.append(outcome)
        kept.sort(key=lambda o: len(o.case.body) + sum(len(v) for _, v in o.case.params))
        del kept[3:]

    @property
    def failed(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        sent = ", ".join(f"{n:,} {k}" for k, n in sorted(self.sent.items()))
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(self.statuses.items()))
        codes = ", ".join(f"{c}: {n:,}" for c, n in self.codes.most_common())
        return (
            f"{sum(self.sent.values()):,} requests ({sent}) in {self.seconds:.0f}s; "
            f"HTTP {statuses}; codes {codes or 'none'}; "
            f"{self.failed:,} failed in {len(self.failures)} class(es); slowest: "
            + ", ".join(f"{t:.1f}s {kind} ({role})" for t, kind, role in self.slowest[:3])
        )

    def describe(self, limit: int = 30) -> str:
        """The failure classes, most frequent first, with a reproducer each."""
        out = [self.summary()]
        for key, count in self.counts.most_common(limit):
            example = self.failures[key][0]
            out.append(f"\n=== {count:,} × {key}")
            out.append(example.case.describe())
            body = example.body[:600].decode("utf-8", "backslashreplace")
            out.append(f"--> HTTP {example.status} {example.content_type}: {body}")
            for text in example.logs[-2:]:
                out.append("server log: " + "\n".join(text.splitlines()[-8:]))
        # printable whatever the server echoed (a lone surrogate cannot be written out)
        return "\n".join(out).encode("utf-8", "backslashreplace").decode()

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "codes": dict(self.codes),
            "failures": [
                {
                    "class": key,
                    "count": count,
                    "request": self.failures[key][0].case.describe(),
                    "status": self.failures[key][0].status,
                    "body": self.failures[key][0].body[:2000].decode("utf-8", "replace"),
                    "logs": self.failures[key][0].logs[-2:],
                }
                for key, count in self.counts.most_common()
            ],
        }


async def play(
    client: httpx.AsyncClient,
    cases: Iterable[Case],
    tokens: Mapping[str, str | None],
    report: Report,
    concurrency: int = 1,
    path: str = ENDPOINT,
    pool: Callable[[], int] | None = None,
) -> Report:
    """Sends every case (`concurrency` at a time) and adds its outcome to `report`.

    `pool` (an app in this process: `connections_in_use(app)`) counts the database
    connections checked out: a request that leaves one behind is a failure too (a few
    dozen such requests exhaust the pool, and every viewer then gets 503). So is a file
    or socket it leaves open (a ResourceWarning, in this process). One at a time, each
    request is checked; otherwise the count after the last one."""
    started = time.perf_counter()
    pending = iter(cases)
    each = pool if concurrency == 1 else None

    async def loop(opened: list[warnings.WarningMessage]) -> None:
        for case in pending:
            before, seen = (each() if each else 0), len(opened)
            outcome = await send(client, case, tokens, path)
            if each is not None:
                for _ in range(SETTLE):  # what the request left scheduled runs now
                    await asyncio.sleep(0)
                if (left := each() - before) > 0:
                    outcome.problems.append(f"leaves {left} database connection(s) checked out")
                outcome.problems += [
                    "leaves open: " + re.sub(r" (object )?at 0x\w+", "", str(w.message))[:80]
                    for w in opened[seen:]
                    if issubclass(w.category, ResourceWarning)
                ]
            report.add(outcome)

    with collecting_logs(), warnings.catch_warnings(record=True) as opened:
        warnings.simplefilter("always", ResourceWarning)
        await asyncio.gather(*(loop(opened) for _ in range(max(1, concurrency))))
    if pool is not None and each is None and (left := pool()) > 0:
        last = Outcome(
            Case("after the last request"),
            0,
            "",
            b"",
            [f"{left} database connection(s) left checked out"],
            [],
        )
        report.add(last)
    report.seconds += time.perf_counter() - started
    return report


def connections_in_use(app: Any) -> Callable[[], int]:
    """The app's database connections checked out now (its lifespan has started)."""
    return lambda: int(app.state.engine.pool.checkedout())


HARVEST = (
    "{ me { id organisation { id } } structures { id places { id } } "
    "households(first: 100) { pageInfo { endCursor } edges { cursor node { id "
    "members { id person { id } } } } } }",
    "{ households(first: 40) { edges { node { "
    "demands(first: 5) { edges { cursor node { id orientations { id } stays { id } } } } "
    "evaluations(first: 3) { edges { cursor node { id } } } "
    "notes(first: 3) { edges { cursor node { id } } } "
    "auditEvents(first: 3) { edges { cursor node { id } } } } } } }",
    '{ searchPersons(query: "dupont", first: 5) { edges { cursor } pageInfo { endCursor } } }',
)


async def harvest(
    client: httpx.AsyncClient, tokens: Mapping[str, str | None], path: str = ENDPOINT
) -> list[str]:
    """Real ids and cursors of the demo data, read through the API as several viewers
    (whatever each answers: a failing field only leaves its ids out)."""
    found: set[str] = set()

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in ("id", "cursor", "endCursor"):
            found.add(value)

    for role in ("siao.75@demo.siao", "sw.alpha@demo.siao", "manager.chrs@demo.siao"):
        token = tokens.get(role)
        if token is None:
            continue
        for document in HARVEST:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await client.post(
                    path, json={"query": document}, headers={"authorization": f"Bearer {token}"}
                )
                walk(response.json())
    return sorted(found)


# --- command line ----------------------------------------------------------------------


async def _fuzz(args: argparse.Namespace, settings: Settings, database_url: str | None) -> Report:
    roles: list[str] = args.role or list(ROLES)
    tokens = tokens_for(
        settings, {*roles, "siao.75@demo.siao", "sw.alpha@demo.siao", "manager.chrs@demo.siao"}
    )
    app_context: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
    if args.url is None:
        from server import create_app

        assert database_url is not None
        app = create_app(settings, database_url)
        app_context = app.router.lifespan_context(app)
        client = client_for_app(app)
        path = ENDPOINT
        pool = connections_in_use(app)
    else:
        parsed = httpx.URL(args.url)
        path = parsed.path if parsed.path not in ("", "/") else ENDPOINT
        client = httpx.AsyncClient(base_url=parsed.copy_with(path="/"), timeout=HANG_SECONDS)
        pool = None
    report = Report()
    async with app_context, client:
        real_ids = await harvest(client, tokens, path)
        print(f"{len(real_ids)} real ids and cursors of the demo data", flush=True)
        cases = generate_http(settings, args.http, args.seed, roles)
        if args.url is not None:  # what an HTTP client library will not send
            cases = [c for c in cases if c.sendable()]
        await play(client, cases, tokens, report, args.concurrency, path, pool)
        print(f"malformed HTTP: {report.summary()}", flush=True)
        await _documents(args, client, tokens, roles, real_ids, report, path, pool)
    return report


async def _documents(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    tokens: Mapping[str, str | None],
    roles: Sequence[str],
    real_ids: Sequence[str],
    report: Report,
    path: str,
    pool: Callable[[], int] | None,
) -> None:
    """Generated in batches by `--jobs` processes while the previous batches are sent."""
    size = 200
    jobs = [
        (
            min(size, args.documents - start),
            args.seed * 100_003 + start // size,
            tuple(roles),
            tuple(real_ids),
            args.operations,
        )
        for start in range(0, args.documents, size)
    ]
    loop = asyncio.get_running_loop()
    # spawned, not forked: a fork of this process (threads, an event loop, open
    # connections) is unsafe, and warned against from Python 3.12
    workers = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [loop.run_in_executor(workers, _document_batch, job) for job in jobs]
        for done, future in enumerate(futures, 1):
            await play(client, await future, tokens, report, args.concurrency, path, pool)
            if done % 5 == 0 or done == len(futures):
                print(f"documents: batch {done}/{len(futures)}: {report.summary()}", flush=True)
    finally:
        workers.shutdown(cancel_futures=True)  # stopped early: the batches not started


@contextlib.contextmanager
def fresh_database(data_dir: Path) -> Iterator[str]:
    """A new database with the demo data, dropped at the end: on DATABASE_URL's server,
    else an embedded server in `data_dir` (deleted at the end)."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        from bench.database import database

        with database(data_dir) as db:
            yield db.url
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    from bench.database import plain_url
    from migrations import upgrade
    from models.demo import load_demo

    name = f"siao_fuzz_{uuid.uuid4().hex[:12]}"
    admin = plain_url(make_url(server).set(database="postgres").render_as_string(False))

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        print(f"Demo data: {asyncio.run(load_demo(url))}", flush=True)
        yield url
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def terminated_as_exit() -> Iterator[None]:
    """SIGTERM (`timeout`, `kill`) unwinds like Ctrl-C: the database made for the run is
    dropped, an embedded server stopped, the temp folder deleted."""

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def quiet_console() -> Iterator[None]:
    """The server's log lines are kept with each failure: on the console they would bury
    the report under one traceback per failing request."""
    handlers = logging.getLogger().handlers
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="siao fuzz",
        description="Send schema-generated GraphQL documents and malformed HTTP requests as "
        "several viewers; fail on any 5xx, INTERNAL_SERVER_ERROR, uncoded error or Python text.",
    )
    parser.add_argument("--documents", type=int, default=10_000, help="documents (10000)")
    parser.add_argument("--http", type=int, default=1_000, help="malformed requests (1000)")
    parser.add_argument("--seed", type=int, default=1, help="what is drawn (1)")
    parser.add_argument(
        "--role",
        type=check_role,
        action="append",
        default=[],
        help=f"a viewer (repeatable; default all): {ANONYMOUS}, a demo login, or "
        "partner:NAME@TERRITORY[/SCOPE,...], e.g. partner:SYPLO@75/demands:read",
    )
    parser.add_argument(
        "--operations", choices=["both", "query", "mutation"], default="both", help="(both)"
    )
    parser.add_argument(
        "--url",
        help="a running dev server's endpoint, e.g. http://127.0.0.1:8000/graphql "
        "(default: an app in this process on a fresh demo database)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="with --url: the server's data folder, whose key signs the tokens "
        "(default: SIAO_DATA_DIR or the user's data folder)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight (1: each request is also checked for database connections "
        "it leaves checked out; more: only the count after the last one)",
    )
    parser.add_argument(
        "--jobs", type=int, default=min(4, os.cpu_count() or 1), help="generating processes"
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--show", type=int, default=30, help="failure classes printed (30)")
    args = parser.parse_args(argv)
    if min(args.documents, args.http) < 0 or min(args.concurrency, args.jobs) < 1:
        parser.error("counts must not be negative, --concurrency and --jobs at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with terminated_as_exit(), quiet_console(), tempfile.TemporaryDirectory() as tmp:
        base = Settings.from_env()
        if args.url is not None:
            settings = replace(base, env=Environment.DEV, data_dir=args.data_dir or base.data_dir)
            report = asyncio.run(_fuzz(args, settings, None))
        else:
            settings = replace(base, env=Environment.DEV, data_dir=Path(tmp), database_url=None)
            with fresh_database(Path(tmp)) as url:
                report = asyncio.run(_fuzz(args, settings, url))
    print(report.describe(args.show))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
