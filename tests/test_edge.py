"""The HTTP edge: every answer is coded JSON, whatever is wrong with the request or the
database; GraphQL over HTTP's media types and status codes; input hygiene before SQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from auth.tokens import PartnerGrant, mint_dev_token
from models.database import create_engine
from schema.http import GRAPHQL_RESPONSE_JSON
from server import ErrorBoundary
from tests.conftest import Run, http_client

SIAO = "siao.75@demo.siao"
JSON_HEADERS = {"content-type": "application/json"}


def _deep(levels: int) -> bytes:
    """A request whose JSON nests `levels` levels in all (the request and its variables
    are two of them)."""
    arrays = levels - 2
    return (
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * arrays + b"]" * arrays + b"}}"
    )


def _codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


async def _post(app: Starlette, body: bytes, headers: dict[str, str] | None = None) -> Any:
    async with http_client(app) as client:
        return await client.post("/graphql", content=body, headers=headers or JSON_HEADERS)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"\xff\xfe{}", "application/json", 400, "BAD_REQUEST"),  # not UTF-8
        (b"{nope", "application/json", 400, "BAD_REQUEST"),
        (b"null", "application/json", 400, "BAD_REQUEST"),
        (b"1", "application/json", 400, "BAD_REQUEST"),
        (b'"x"', "application/json", 400, "BAD_REQUEST"),
        (b"true", "application/json", 400, "BAD_REQUEST"),
        (b"[]", "application/json", 400, "BAD_REQUEST"),  # batches are off
        (b"{}", "application/json", 400, "BAD_REQUEST"),  # no query
        (b'{"query": 5}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": 5}', "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ __typename }", "operationName": 5}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (b"[" * 1000 + b"]" * 1000, "application/json", 400, "BAD_REQUEST"),
        (_deep(65), "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
async def test_a_malformed_body_gets_a_coded_4xx_before_anything_runs(
    app: Starlette, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await _post(app, body, {"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert _codes(response) == [code]
    assert response.headers["x-request-id"]


async def test_a_body_just_within_the_depth_limit_is_served(
    app: Starlette, settings: Settings
) -> None:
    response = await _post(app, _deep(settings.max_json_depth))
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_body_over_the_size_limit_is_refused_unread(
    app: Starlette, settings: Settings
) -> None:
    padding = b" " * (settings.max_body_bytes + 1)
    declared = await _post(app, b'{"query": "{ __typename }"' + padding + b"}")
    assert declared.status_code == 413
    assert _codes(declared) == ["PAYLOAD_TOO_LARGE"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: cut off as it streams
        yield b'{"query": "{ __typename }"'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536
        yield b"}"

    async with http_client(app) as client:
        streamed = await client.post("/graphql", content=chunks(), headers=JSON_HEADERS)
    assert streamed.status_code == 413
    assert _codes(streamed) == ["PAYLOAD_TOO_LARGE"]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ('{ searchPersons(query: "ab\\u0000c") { totalCount } }', None),
        ('{ searchPersons(query: "ab\\u{0}c") { totalCount } }', None),
        ("query($q: String!) { searchPersons(query: $q) { totalCount } }", '{"q": "a\\u0000b"}'),
        ("query($q: String!) { searchPersons(query: $q) { totalCount } }", '{"q": "a\\ud800b"}'),
        ("query($r: String) { household(reference: $r) { id } }", '{"r": "\\udc00"}'),
        # an enum variable: its error message used to repeat the value, unencodable
        (
            "query($o: QueueOrder!) { demands(orderBy: $o) { totalCount } }",
            '{"o": "PRIORITY\\ud800"}',
        ),
    ],
)
async def test_nul_and_lone_surrogates_are_bad_user_input_before_any_sql(
    app: Starlette, token: Callable[[str], str], document: str, variables: str | None
) -> None:
    # Written as JSON text: a lone surrogate cannot come from a Python str through json.
    body = '{"query": ' + _json_string(document)
    if variables is not None:
        body += ', "variables": ' + variables
    body += "}"
    headers = {**JSON_HEADERS, "authorization": f"Bearer {token(SIAO)}"}
    response = await _post(app, body.encode(), headers)
    assert response.status_code == 400
    assert _codes(response) == ["BAD_USER_INPUT"]
    assert "data" not in response.json()  # nothing ran


def _json_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def test_graphql_response_json_when_the_client_accepts_it(app: Starlette) -> None:
    async with http_client(app) as client:
        wanted = {**JSON_HEADERS, "accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"}
        ok = await client.post("/graphql", json={"query": "{ __typename }"}, headers=wanted)
        invalid = await client.post("/graphql", json={"query": "{ nope }"}, headers=wanted)
        legacy = await client.post("/graphql", json={"query": "{ nope }"}, headers=JSON_HEADERS)
        preferred_json = await client.post(
            "/graphql",
            json={"query": "{ nope }"},
            headers={"accept": f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5"},
        )
    assert ok.status_code == 200
    assert ok.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert ok.json()["data"] == {"__typename": "Query"}
    # a request error: 4xx and no `data` (execution never began)
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert "data" not in invalid.json()
    assert _codes(invalid) == ["GRAPHQL_VALIDATION_FAILED"]
    # application/json (the default): 200 for every GraphQL response
    for response in (legacy, preferred_json):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert _codes(response) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_methods_paths_and_operations_the_endpoint_does_not_take(
    app: Starlette, token: Callable[[str], str]
) -> None:
    auth = {"authorization": f"Bearer {token(SIAO)}"}
    async with http_client(app) as client:
        get_query = await client.get("/graphql", params={"query": "{ __typename }"})
        get_mutation = await client.get("/graphql", params={"query": "mutation { __typename }"})
        put = await client.put("/graphql", content=b"{}")
        nowhere = await client.get("/nowhere")
        unknown_operation = await client.post(
            "/graphql", json={"query": "query A { me { id } }", "operationName": "B"}, headers=auth
        )
        subscription = await client.post(
            "/graphql",
            json={"query": 'subscription { demandChanged(territory: "75") { id } }'},
            headers=auth,
        )
    assert get_query.status_code == 200
    assert get_query.json()["data"] == {"__typename": "Query"}
    assert get_mutation.status_code == 405
    assert get_mutation.headers["allow"] == "POST"
    assert put.headers["allow"] == "GET, POST"
    assert _codes(get_mutation) == ["METHOD_NOT_ALLOWED"]
    assert put.status_code == 405
    assert _codes(put) == ["METHOD_NOT_ALLOWED"]
    assert nowhere.status_code == 404
    assert _codes(nowhere) == ["NOT_FOUND"]
    assert unknown_operation.status_code == 400
    assert _codes(unknown_operation) == ["BAD_REQUEST"]
    assert _codes(subscription) == ["OPERATION_NOT_SUPPORTED"]
    assert subscription.json()["data"] is None


@pytest.fixture
async def unreachable(app: Starlette) -> AsyncIterator[Starlette]:
    """The app whose database stopped answering: its engine now points at a port where
    nothing listens (a real refused connection, as when PostgreSQL is down)."""
    engine = app.state.engine
    app.state.engine = create_engine("postgresql://postgres@127.0.0.1:9/siao", pool_size=1)
    try:
        yield app
    finally:
        await app.state.engine.dispose()
        app.state.engine = engine


def _partner_token(settings: Settings) -> str:
    grant = PartnerGrant("SYPLO", frozenset({PartnerScope.DEMANDS_READ}), "75")
    return mint_dev_token(settings, "partner:SYPLO", partner=grant)


async def test_database_unavailable_is_a_coded_503_on_every_path(
    unreachable: Starlette,
    settings: Settings,
    token: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    query = {"query": "{ households(first: 1) { edges { node { reference } } } }"}
    async with http_client(unreachable) as client:
        # a user's token: the viewer is read from the database before GraphQL runs
        at_authentication = await client.post(
            "/graphql", json=query, headers={"authorization": f"Bearer {token(SIAO)}"}
        )
        # a partner's token needs no lookup: the resolver meets the database
        in_execution = await client.post(
            "/graphql",
            json=query,
            headers={"authorization": f"Bearer {_partner_token(settings)}"},
        )
        ready = await client.get("/health/ready")
        anonymous = await client.post("/graphql", json={"query": "{ __typename }"})
    for response in (at_authentication, in_execution):
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(settings.retry_after_seconds)
        body = response.json()
        assert body.get("data") is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
        assert "Traceback" not in response.text
        assert "Errno" not in response.text
    assert ready.status_code == 503
    assert anonymous.status_code == 200  # what needs no database still works
    # an outage is not a bug: warnings without tracebacks, no ERROR line
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("siao"))


async def test_an_unexpected_error_is_json_with_the_request_id_of_its_log_line(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret internals")

    boundary = ErrorBoundary(broken)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "app": app, "method": "GET", "path": "/", "headers": []}
    with caplog.at_level(logging.ERROR):
        await boundary(scope, receive, send)
    assert sent[0]["status"] == 500
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b"secret internals" not in body
    assert b'"code":"INTERNAL_SERVER_ERROR"' in body
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None  # the traceback is in the log, not the answer


CONNECTIONS = """query($f: Int, $id: ID!) {
  node(id: $id) {
    ... on Household {
      demands(first: $f) { totalCount edges { node { id } } }
      notes(first: $f) { totalCount }
      auditEvents(first: $f) { totalCount }
      evaluations(first: $f) { totalCount }
      accessLog(first: $f) { totalCount }
    }
  }
  households(first: $f) { edges { node { id } } }
  demands(first: $f) { totalCount }
}"""


async def test_a_null_or_absent_first_means_the_default_page(
    as_user: Callable[[str | None], Run], sql: asyncpg.Connection
) -> None:
    from schema.node import encode_id

    household = await sql.fetchval("SELECT id FROM households WHERE reference = '7500000001'")
    run = as_user(SIAO)
    given_null = await run(CONNECTIONS, f=None, id=encode_id("Household", household))
    absent = await run(CONNECTIONS, id=encode_id("Household", household))
    twenty = await run(CONNECTIONS, f=20, id=encode_id("Household", household))
    assert given_null.errors == absent.errors == twenty.errors == []
    pages = [answer.data or {} for answer in (given_null, absent, twenty)]
    for page in pages:  # each read of the record is logged: the log grows between them
        page["node"].pop("accessLog")
    assert pages[0] == pages[1] == pages[2]
    assert len(pages[2]["households"]["edges"]) == 20


async def test_values_outside_a_columns_range_are_bad_user_input(
    as_user: Callable[[str | None], Run],
) -> None:
    run = as_user(SIAO)
    priority = await run("{ demands(filter: { priority: 32768 }) { totalCount } }")
    negative = await run('{ searchPersons(query: "mar", after: "LTE=") { totalCount } }')
    huge = await run(
        'query($a: String) { searchPersons(query: "mar", after: $a) { totalCount } }',
        a="MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=",  # 20 digits
    )
    for answer, field in ((priority, "priority"), (negative, "after"), (huge, "after")):
        assert answer.codes == ["BAD_USER_INPUT"]
        assert answer.errors[0]["extensions"]["field"] == field


async def test_me_with_a_partner_token_is_a_coded_refusal(
    app: Starlette, settings: Settings
) -> None:
    async with http_client(app) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"authorization": f"Bearer {_partner_token(settings)}"},
        )
    assert response.status_code == 200
    assert _codes(response) == ["FORBIDDEN"]


async def test_a_clients_mistake_is_logged_at_info_without_traceback(
    as_user: Callable[[str | None], Run], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = await as_user(SIAO)(
        "query($at: DateTime!) { demands(filter: { waitingSince: $at }) { totalCount } }",
        at="yesterday",
    )
    assert answer.codes == ["BAD_USER_INPUT"]
    mine = [r for r in caplog.records if r.name.startswith("siao")]
    assert any(r.levelno == logging.INFO and "client error" in r.getMessage() for r in mine)
    assert not [r for r in mine if r.levelno >= logging.WARNING or r.exc_info]


async def test_a_refused_root_field_leaves_no_connection_checked_out(
    app: Starlette, settings: Settings, sql: asyncpg.Connection
) -> None:
    """graphql-core stops waiting for sibling root fields once a non-null one fails; the
    node loader's batch then runs after the request's context closed. It used to open a
    connection that nobody closed: 30 such requests exhausted the pool, and every viewer
    got 503s."""
    from schema.node import encode_id

    person = await sql.fetchval("SELECT id FROM persons ORDER BY id LIMIT 1")
    grant = PartnerGrant("SYPLO", frozenset(PartnerScope), "75")  # a partner may not search
    partner = mint_dev_token(settings, "partner:SYPLO", partner=grant)
    document = 'query($id: ID!) { searchPersons(query: "x") { totalCount } node(id: $id) { id } }'
    variables = {"id": encode_id("Person", person)}
    pool = app.state.engine.pool
    async with http_client(app) as client:
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"authorization": f"Bearer {partner}"},
        )
    assert _codes(response) == ["FORBIDDEN"]
    for _ in range(1000):  # let the orphaned batch run to its end (no clock involved)
        if pool.checkedout() == 0:
            break
        await asyncio.sleep(0)
    assert pool.checkedout() == 0


class _CountingFragments(dict[str, Any]):
    reads = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return super().__getitem__(key)


async def test_an_anonymous_fragment_fan_out_is_walked_once_per_fragment(app: Starlette) -> None:
    """Fragment F(i) spreads F(i+1) twice: walked naively, 2^n spreads. The authentication
    gate walks every anonymous document's root fields before any limit runs, so a 1.5 KB
    request without a token blocked a worker for half an hour at n = 30."""
    from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

    from schema.extensions import _root_fields

    levels = 20
    document = f"{{ ...F0 }} fragment F{levels} on Query {{ __typename }} " + " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    parsed = parse(document)
    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = _CountingFragments(
        (d.name.value, d) for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    )
    assert _root_fields(operation, fragments) == {"__typename"}
    assert fragments.reads <= levels + 1
    async with http_client(app) as client:  # and through the endpoint, without a token
        response = await client.post("/graphql", json={"query": document})
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_multipart_body_cut_before_its_closing_boundary_is_refused(
    app: Starlette, token: Callable[[str], str]
) -> None:
    """The form parser drops a truncated last part but kept its temporary file open (a
    file descriptor per request until the GC ran, a ResourceWarning in the tests)."""
    body = (
        b'--fuzz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        b'{"query": "mutation($f: Upload!) { __typename }", "variables": {"f": null}}\r\n'
        b'--fuzz\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0": ["variables.f"]}\r\n'
        b'--fuzz\r\nContent-Disposition: form-data; name="0"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4"
    )
    headers = {
        "content-type": "multipart/form-data; boundary=fuzz",
        "graphql-require-preflight": "1",
        "authorization": f"Bearer {token(SIAO)}",
    }
    cut = await _post(app, body, headers)
    assert cut.status_code == 400
    assert _codes(cut) == ["BAD_REQUEST"]
    whole = await _post(app, body + b"\r\n--fuzz--\r\n", headers)
    assert whole.status_code == 200  # the same body, closed: parsed and run


ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "cursor",
    [
        f'[1e400, "2024-01-01T00:00:00+00:00", "{ZERO}"]',
        f'[99999999999999999999, "2024-01-01T00:00:00+00:00", "{ZERO}"]',
        f'[9, "2024-01-01T00:00:00+00:00", "{ZERO}"]',
        f'[1, "0001-01-01T00:00:00+14:00", "{ZERO}"]',
        "[" * 5000 + "]" * 5000,
    ],
)
async def test_a_forged_work_queue_cursor_is_bad_user_input(
    as_user: Callable[[str | None], Run], cursor: str
) -> None:
    import base64

    after = base64.urlsafe_b64encode(cursor.encode()).decode()
    answer = await as_user(SIAO)(
        "query($a: String) { demands(first: 1, after: $a) { totalCount } }", a=after
    )
    assert answer.codes == ["BAD_USER_INPUT"]


async def test_instants_at_the_edge_of_the_calendar_are_bad_user_input(
    as_user: Callable[[str | None], Run],
) -> None:
    run = as_user(SIAO)
    for instant in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        answer = await run(
            "query($at: DateTime) { demands(first: 1, filter: {waitingSince: $at}) "
            "{ totalCount } }",
            at=instant,
        )
        assert answer.codes == ["BAD_USER_INPUT"], instant


async def test_a_territory_id_holding_nul_reads_as_not_found(
    as_user: Callable[[str | None], Run],
) -> None:
    answer = await as_user(SIAO)(
        "query($i: ID!) { node(id: $i) { id } }",
        i="VGVycml0b3J5OgA=",  # "Territory:\\0"
    )
    assert answer.errors == []
    assert answer.data == {"node": None}
    malformed = await as_user(SIAO)("query($i: ID!) { node(id: $i) { id } }", i="jWQ=")
    assert malformed.codes == ["BAD_USER_INPUT"]
    assert "\\x" not in malformed.errors[0]["message"]  # no Python repr
