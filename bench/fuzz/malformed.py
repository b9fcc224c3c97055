"""Malformed HTTP requests: a table of known shapes (bodies, headers, methods, GET
parameters, multipart, tokens that lie) and random ones (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import graphql
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from auth.settings import Settings
from auth.tokens import PARTNER_CLAIM, TERRITORY_CLAIM, mint_dev_token
from bench.fuzz.oracle import ANONYMOUS, Case
from bench.fuzz.values import JSON_VALUES, TEXT, b64, draw_many

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
    none_header = b64('{"alg":"none","typ":"JWT"}').rstrip("=")
    none_body = b64(json.dumps({"sub": "admin@demo.siao", "exp": 4102444800})).rstrip("=")
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
    "20-digit cursor": {"query": SEARCH.replace("$q)", f'$q, after: "{b64("9" * 20)}")')},
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
