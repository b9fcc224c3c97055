"""Sending cases to the app in this process or a running server, each answer judged and
the server's log lines of its request kept; the real ids a run starts from (`harvest`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.fuzz.oracle import ENDPOINT, Case, octets, problems
from bench.fuzz.report import Outcome, Report

# A request that never answers is a failure too; the bound is far above any honest answer.
HANG_SECONDS = 120.0
# Loop turns given to what a request left scheduled before its connections are counted.
SETTLE = 20


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


async def send(
    client: httpx.AsyncClient, case: Case, tokens: Mapping[str, str | None], path: str = ENDPOINT
) -> Outcome:
    headers = [(name.encode(), octets(value)) for name, value in case.headers]
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
