"""Every request gets a coded answer (issue #12): schema-generated documents as every kind
of viewer, and malformed HTTP requests, sent to the app; none may answer 5xx,
INTERNAL_SERVER_ERROR, an error without `extensions.code`, or Python's own text.

A bounded number of examples here (fixed seeds, so a failure is the same on every run);
`siao fuzz --documents 10000 --http 1000` is the long run (docs/fuzzing.md). A failure
prints each failure class with its smallest request and the server's traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette

from auth.settings import Settings
from bench.fuzz.command import main as fuzz_main
from bench.fuzz.command import parse_args
from bench.fuzz.documents import generate_documents
from bench.fuzz.malformed import http_table, random_requests
from bench.fuzz.oracle import Case, problems
from bench.fuzz.report import Report
from bench.fuzz.sending import client_for_app, connections_in_use, harvest, play
from bench.fuzz.values import draw_many, ids_by_type
from bench.fuzz.viewers import ROLES, partner_grant, tokens_for
from tests.conftest import Databases

DOCUMENTS = 200
RANDOM_HTTP = 150
SEED = 12


def pool(app: Starlette) -> Callable[[], int]:
    """Each request is also checked for database connections it leaves checked out."""
    return connections_in_use(app)


async def test_schema_documents_get_coded_answers(app: Starlette, settings: Settings) -> None:
    """Queries and mutations drawn from the exported schema, with plain and hostile values
    (NUL, lone surrogates, huge integers, random cursors, real and random ids), inline or
    as variables (null, absent), as anonymous, every demo user and partners."""
    tokens = tokens_for(settings, ROLES)
    async with client_for_app(app) as client:
        real_ids = await harvest(client, tokens)
        cases = await asyncio.to_thread(generate_documents, DOCUMENTS, SEED, ROLES, real_ids)
        report = await play(client, cases, tokens, Report(), pool=pool(app))

    assert report.failed == 0, report.describe()
    # what makes the run worth something: real ids to reach the rows, both operations,
    # and documents that got past the input checks
    assert len(ids_by_type(real_ids)) > 8
    assert {c.kind.split(":")[1] for c in cases} == {"query", "mutation"}
    assert report.sent["document"] == DOCUMENTS
    assert report.statuses[200] > DOCUMENTS // 2


async def test_malformed_requests_get_coded_answers(app: Starlette, settings: Settings) -> None:
    """The table of known malformed shapes (bodies that are not UTF-8 or not JSON, JSON
    nested 1,000 deep, wrong shapes, 2 MiB bodies, GET, subscriptions over HTTP, empty
    selections, batches, broken multipart, tokens that lie...)."""
    tokens = tokens_for(settings, ROLES)
    table = http_table(settings)
    async with client_for_app(app) as client:
        report = await play(client, table, tokens, Report(), pool=pool(app))

    assert report.failed == 0, report.describe()
    assert report.sent["http"] == len(table)
    assert len(table) > 140


async def test_random_requests_get_coded_answers(app: Starlette, settings: Settings) -> None:
    """Random bytes, random JSON, random request-shaped JSON, broken bodies, random GET
    parameters and Authorization headers (hypothesis)."""
    tokens = tokens_for(settings, ROLES)
    cases = draw_many(random_requests(ROLES), RANDOM_HTTP, SEED)
    async with client_for_app(app) as client:
        report = await play(client, cases, tokens, Report(), pool=pool(app))

    assert report.failed == 0, report.describe()
    assert report.sent["http"] == RANDOM_HTTP


POST = Case("http:test", body=b'{"query": "{ me { id } }"}')
JSON = {"content-type": "application/json", "x-request-id": "abc"}
CODED = json.dumps({"errors": [{"message": "No.", "extensions": {"code": "BAD_REQUEST"}}]})


@pytest.mark.parametrize(
    ("case", "status", "headers", "body", "found"),
    [
        pytest.param(POST, 400, JSON, CODED, [], id="a coded 400"),
        pytest.param(POST, 200, JSON, '{"data": {"me": null}}', [], id="data"),
        pytest.param(
            POST,
            500,
            {"content-type": "text/plain"},
            "Internal Server Error",
            [
                "HTTP 500",
                "no X-Request-Id",
                "leaks 'Internal Server Error'",
                "not JSON (text/plain)",
            ],
            id="Starlette's plain-text 500",
        ),
        pytest.param(
            POST,
            200,
            JSON,
            CODED.replace("BAD_REQUEST", "INTERNAL_SERVER_ERROR"),
            ["INTERNAL_SERVER_ERROR"],
            id="a masked error",
        ),
        pytest.param(
            POST,
            400,
            JSON,
            '{"errors": [{"message": "max() arg is an empty sequence"}]}',
            ["leaks 'arg is an empty sequence'", "an error without extensions.code"],
            id="Python's text, no code",
        ),
        pytest.param(
            POST,
            400,
            JSON,
            '{"detail": "bad"}',
            ["not a GraphQL response (no data, no errors)"],
            id="not GraphQL",
        ),
        pytest.param(
            POST,
            413,
            JSON,
            '{"data": null}',
            ["HTTP 413 without errors"],
            id="a refusal without errors",
        ),
        pytest.param(POST, 400, JSON, b'{"errors": "\xff"}', ["body is not JSON"], id="not UTF-8"),
        pytest.param(
            Case("http:ide", method="GET", headers=(("accept", "text/html"),)),
            200,
            {"content-type": "text/html; charset=utf-8", "x-request-id": "abc"},
            "<!doctype html>",
            [],
            id="GraphiQL for a browser",
        ),
        pytest.param(
            Case("http:ide", method="GET", headers=(("accept", "application/json"),)),
            200,
            {"content-type": "text/html", "x-request-id": "abc"},
            "<!doctype html>",
            ["not JSON (text/html)"],
            id="HTML to a client that asked for JSON",
        ),
    ],
)
def test_the_oracle_flags_what_a_client_must_never_get(
    case: Case, status: int, headers: dict[str, str], body: str | bytes, found: list[str]
) -> None:
    """The fuzz tests pass only if their judge sees failures: each answer here is one the
    issue saw (or its opposite) and must be judged so."""
    raw = body if isinstance(body, bytes) else body.encode()
    assert problems(case, status, headers, raw) == found


def test_siao_fuzz_runs_on_a_fresh_database(
    databases: Databases, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`siao fuzz` end to end, as in a long run but short: a database of its own on the
    test server (created, loaded with the demo, dropped), documents generated in a worker
    process, the table, the report."""
    monkeypatch.setenv("DATABASE_URL", databases.server_url)
    report = tmp_path / "report.json"
    code = fuzz_main(["--documents", "10", "--http", "20", "--jobs", "1", "--json", str(report)])

    written = json.loads(report.read_text())
    assert code == 0, written["failures"]
    assert written["summary"].startswith("30 requests (10 document, 20 http)")


def test_the_command_line_names_roles_and_counts() -> None:
    args = parse_args(
        [
            "--documents",
            "20",
            "--http",
            "5",
            "--role",
            "partner:SYPLO@75/demands:read",
            "--role",
            "sw.alpha@demo.siao",
        ]
    )
    assert (args.documents, args.http, args.url) == (20, 5, None)
    assert args.role == ["partner:SYPLO@75/demands:read", "sw.alpha@demo.siao"]
    assert partner_grant(args.role[0]).territory == "75"
    with pytest.raises(SystemExit):
        parse_args(["--role", "nobody@demo.siao"])
