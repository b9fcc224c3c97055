"""The service rides out database failures: with PostgreSQL stopped (fast shutdown), killed
(SIGKILL of the postmaster) or paused (SIGSTOP) under a running API, requests answer a
coded 503 (`SERVICE_UNAVAILABLE`, `Retry-After`) within the configured timeouts instead of
a 500 or a hang, and /health/ready says 503; once the database is back, the API serves
again without a restart, live updates resume on the subscriptions opened before the
outage, and no acknowledged write is lost.

The database is a throwaway server of this module (`tests.pg_instance`), never the
session's; the API is served over a real socket in the test's event loop (WebSockets need
one). Nothing sleeps to wait: every wait polls a condition, with a deadline as a safety
net (never a timing assertion)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from auth.settings import Settings
from auth.tokens import mint_dev_token
from migrations import upgrade
from models.demo import load_demo
from server import create_app
from tests.conftest import _admin, _with_database
from tests.pg_instance import PgInstance
from tests.test_mutations import CREATE_DEMAND, CREATE_HOUSEHOLD, gid, member
from tests.test_sessions import delivered, live, subscribe

OPERATOR = "siao.75@demo.siao"
HOUSEHOLDS = ("7500000021", "7500000022", "7500000045", "7500000046")
ME = "{ me { login } }"
TEMPLATE = "siao_failures_tpl"
# A safety net against a hang, never a timing assertion.
LIMIT = 30.0
POLL_SECONDS = 0.05
WORKERS = 6
CONCURRENT = 6  # requests at once, each on its own pooled connection
WRITES_PER_PHASE = 12


@pytest.fixture(scope="module")
def pg() -> Iterator[PgInstance]:
    """The module's PostgreSQL, migrated and loaded with the demo in a template database
    (each test gets a fresh copy)."""
    instance = PgInstance()
    try:
        instance.start()
        asyncio.run(_admin(instance.url, f'CREATE DATABASE "{TEMPLATE}"'))
        template_url = _with_database(instance.url, TEMPLATE)
        upgrade(template_url)
        asyncio.run(load_demo(template_url))
        yield instance
    finally:
        instance.destroy()


@dataclass
class Api:
    """The served app, as a client sees it, and its database."""

    app: Starlette
    settings: Settings
    http: httpx.AsyncClient
    ws_url: str
    database_url: str

    def token(self, login: str = OPERATOR) -> str:
        return mint_dev_token(self.settings, login)

    async def graphql(self, document: str, **variables: Any) -> httpx.Response:
        return await self.http.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {self.token()}"},
        )

    async def ready(self) -> httpx.Response:
        return await self.http.get("/health/ready")


@pytest.fixture
async def api(pg: PgInstance, settings: Settings) -> AsyncIterator[Api]:
    """A fresh copy of the demo on the module's server, and the app served on it with small
    timeouts. Whatever a test did to the server, it runs again afterwards."""
    name = f"siao_f_{uuid.uuid4().hex[:12]}"
    await _admin(pg.url, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    database_url = _with_database(pg.url, name)
    # Small timeouts keep the paused case quick: a statement on a paused server gives up
    # after about 1 s (server) + 1 s (client margin) + 2 s (closing the connection).
    test_settings = replace(
        settings,
        db_connect_timeout=1.0,
        db_pool_timeout=1.0,
        db_statement_timeout=1.0,
        retry_after_seconds=1,
    )
    app = create_app(test_settings, database_url)
    try:
        async with app.router.lifespan_context(app):
            server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
            sock = _listening_socket()
            port = sock.getsockname()[1]
            task = asyncio.create_task(server.serve(sockets=[sock]))
            base = f"http://127.0.0.1:{port}"
            try:
                async with httpx.AsyncClient(base_url=base, timeout=LIMIT) as http:
                    yield Api(
                        app, test_settings, http, f"ws://127.0.0.1:{port}/graphql", database_url
                    )
            finally:
                await asyncio.to_thread(_running_again, pg)
                server.should_exit = True
                await task
                sock.close()
    finally:
        await asyncio.to_thread(_running_again, pg)
        await _admin(pg.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _listening_socket() -> socket.socket:
    """Listens before the server starts: a client may connect at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _running_again(pg: PgInstance) -> None:
    pg.resume()
    if pg.postmaster() is None:
        pg.start()


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls `condition` until it holds (the deadline is a safety net)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIMIT
    while not await condition():
        assert loop.time() < deadline, f"not {what} after {LIMIT:g} s"
        await asyncio.sleep(POLL_SECONDS)


def assert_unavailable(response: httpx.Response, retry_after: int) -> None:
    """The coded 503 of a database that cannot serve now."""
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers.get("retry-after") == str(retry_after)
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]
    assert errors[0]["extensions"]["requestId"] == response.headers["x-request-id"]


def assert_served(response: httpx.Response) -> None:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    body = response.json()
    assert "errors" not in body, body
    assert body["data"] == {"me": {"login": OPERATOR}}


async def _household_id(api: Api, reference: str) -> str:
    conn = await asyncpg.connect(api.database_url)
    try:
        row = await conn.fetchrow("SELECT id FROM households WHERE reference = $1", reference)
    finally:
        await conn.close()
    assert row is not None
    return gid("Household", row["id"])


async def _create_demand(api: Api, household: str) -> httpx.Response:
    return await api.graphql(CREATE_DEMAND, input={"householdId": household, "kind": "EMERGENCY"})


def _acknowledged(response: httpx.Response, field: str) -> dict[str, Any] | None:
    """The payload of a mutation the API says it did (HTTP 200, no error, no refusal)."""
    if response.status_code != 200:
        return None
    body = response.json()
    payload = (body.get("data") or {}).get(field)
    if body.get("errors") or payload is None or payload["userErrors"]:
        return None
    return dict(payload)


async def _ready_and_listening(api: Api) -> bool:
    """Ready, and the process's event bus listens again (/health/ready answers 503 until
    it does; asking the bus too keeps the event check from racing its reconnection)."""
    return (await api.ready()).status_code == 200 and api.app.state.events.listening


def _codes(response: httpx.Response) -> list[str]:
    if not response.headers.get("content-type", "").startswith("application/"):
        return [f"not JSON: {response.text[:100]!r}"]
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


OUTAGES: dict[str, Callable[[PgInstance], None]] = {
    "fast stop": lambda pg: pg.stop("fast"),
    "kill -9": PgInstance.kill,
}


@pytest.mark.parametrize("outage", sorted(OUTAGES))
async def test_no_request_fails_once_a_restarted_database_is_back(
    api: Api, pg: PgInstance, outage: str
) -> None:
    """A restart between two requests kills every pooled connection: none of them is
    handed to a request afterwards (not even to concurrent ones)."""
    pooled = await asyncio.gather(*(api.graphql(ME) for _ in range(CONCURRENT)))
    for response in pooled:
        assert_served(response)

    await asyncio.to_thread(OUTAGES[outage], pg)
    await asyncio.to_thread(pg.start)

    for response in await asyncio.gather(*(api.graphql(ME) for _ in range(CONCURRENT))):
        assert_served(response)


@pytest.mark.parametrize("outage", sorted(OUTAGES))
async def test_a_restarted_database_answers_503_then_serves_again_with_live_updates(
    api: Api, pg: PgInstance, outage: str
) -> None:
    household = await _household_id(api, HOUSEHOLDS[0])
    async with live(api.ws_url, api.token()) as ws:
        await subscribe(api.app, ws)
        assert_served(await api.graphql(ME))
        assert (await api.ready()).status_code == 200

        await asyncio.to_thread(OUTAGES[outage], pg)
        assert_unavailable(await api.graphql(ME), api.settings.retry_after_seconds)
        assert_unavailable(await _create_demand(api, household), api.settings.retry_after_seconds)
        assert (await api.ready()).status_code == 503

        await asyncio.to_thread(pg.start)
        assert_served(await api.graphql(ME))
        await until(lambda: _ready_and_listening(api), "ready again")
        created = _acknowledged(await _create_demand(api, household), "createDemand")
        assert created is not None
        # The subscription opened before the outage hears of a change made after it.
        event = await delivered(ws)
        assert event["data"]["demandChanged"]["id"] == created["demand"]["id"]


async def test_a_live_connection_opened_during_an_outage_is_told_to_retry(
    api: Api, pg: PgInstance
) -> None:
    """The viewer of a WebSocket's token is read from the database: while it is down, the
    socket closes with 1013 (Try Again Later), not 4403 (a bad token) nor a crash; once
    it is back, a new connection is acknowledged."""
    await asyncio.to_thread(pg.stop, "fast")
    async with connect(api.ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token()}"}}
        await ws.send(json.dumps(init))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), LIMIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    await asyncio.to_thread(pg.start)
    async with live(api.ws_url, api.token()):
        pass


async def test_a_paused_database_answers_503_within_the_timeouts_then_serves_again(
    api: Api, pg: PgInstance
) -> None:
    household = await _household_id(api, HOUSEHOLDS[0])
    async with live(api.ws_url, api.token()) as ws:
        await subscribe(api.app, ws)
        assert_served(await api.graphql(ME))

        await asyncio.to_thread(pg.pause)
        try:
            assert_unavailable(await api.graphql(ME), api.settings.retry_after_seconds)
            assert (await api.ready()).status_code == 503
        finally:
            await asyncio.to_thread(pg.resume)

        async def served() -> bool:
            return (await api.graphql(ME)).status_code == 200

        await until(served, "served again")
        await until(lambda: _ready_and_listening(api), "ready again")
        created = _acknowledged(await _create_demand(api, household), "createDemand")
        assert created is not None
        event = await delivered(ws)
        assert event["data"]["demandChanged"]["id"] == created["demand"]["id"]


UNDER_LOAD: dict[str, tuple[Callable[[PgInstance], None], Callable[[PgInstance], None]]] = {
    "kill -9": (PgInstance.kill, PgInstance.start),
    "fast stop": (lambda pg: pg.stop("fast"), PgInstance.start),
    "pause": (PgInstance.pause, PgInstance.resume),
}


@pytest.mark.parametrize("outage", sorted(UNDER_LOAD))
async def test_every_acknowledged_write_survives_an_outage_under_load(
    api: Api, pg: PgInstance, outage: str
) -> None:
    """Writers and readers keep going while the database is killed, stopped or paused,
    then back: each answer is served (200) or a coded 503 (no other error), 503s are
    answered during the outage, the API serves again without a restart, and every
    household and demand it acknowledged is in the database afterwards."""
    begin, end = UNDER_LOAD[outage]
    households = [await _household_id(api, reference) for reference in HOUSEHOLDS]
    acknowledged_households: list[str] = []
    acknowledged_demands: list[str] = []
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    done = asyncio.Event()

    async def client(number: int) -> None:
        turn = 0
        while not done.is_set():
            turn += 1
            if turn % 3 == 0:
                response = await api.graphql(ME)
            elif turn % 3 == 1:
                response = await api.graphql(
                    CREATE_HOUSEHOLD,
                    input={"territory": "75", "members": [member(f"Client{number}", f"T{turn}")]},
                )
                payload = _acknowledged(response, "createHousehold")
                if payload is not None:
                    acknowledged_households.append(payload["household"]["reference"])
            else:
                response = await _create_demand(api, households[number % len(households)])
                payload = _acknowledged(response, "createDemand")
                if payload is not None:
                    acknowledged_demands.append(payload["demand"]["id"])
            statuses[response.status_code] += 1
            codes.update(_codes(response))

    def writes() -> int:
        return len(acknowledged_households) + len(acknowledged_demands)

    async def at_least(count: int) -> bool:
        return writes() >= count

    async def unavailable_answered() -> bool:
        return statuses[503] > 0

    clients = [asyncio.create_task(client(n)) for n in range(WORKERS)]
    try:
        await until(lambda: at_least(WRITES_PER_PHASE), "writing")
        await asyncio.to_thread(begin, pg)
        try:
            await until(unavailable_answered, "503s during the outage")
        finally:
            await asyncio.to_thread(end, pg)
        after_restart = writes()
        await until(lambda: at_least(after_restart + WRITES_PER_PHASE), "writing again")
    finally:
        done.set()
        await asyncio.gather(*clients)

    assert set(statuses) <= {200, 503}, statuses
    assert set(codes) <= {"SERVICE_UNAVAILABLE"}, codes
    conn = await asyncpg.connect(api.database_url)
    try:
        found_households = await conn.fetchval(
            "SELECT count(*) FROM households WHERE reference = ANY($1::text[])",
            acknowledged_households,
        )
        demand_ids = [_uuid_of(global_id) for global_id in acknowledged_demands]
        found_demands = await conn.fetchval(
            "SELECT count(*) FROM demands WHERE id = ANY($1::uuid[])", demand_ids
        )
    finally:
        await conn.close()
    assert found_households == len(set(acknowledged_households))
    assert found_demands == len(set(demand_ids))


def _uuid_of(global_id: str) -> uuid.UUID:
    return uuid.UUID(base64.b64decode(global_id).decode().partition(":")[2])


async def test_a_read_after_the_request_lost_its_connection_is_a_database_failure(
    database_url: str, settings: Settings
) -> None:
    """One read of a request loses the connection (the database went away during it);
    the next loader's read on that connection must be told apart from a bug: it is a
    database failure (503, retry), not SQLAlchemy's PendingRollbackError (500)."""
    from sqlalchemy import text
    from sqlalchemy.exc import PendingRollbackError

    from models.database import create_engine
    from resolvers.context import Context
    from resolvers.errors import database_unavailable

    engine = create_engine(database_url)
    ctx = Context(engine=engine, settings=settings, request_id="test", viewer=None)
    try:
        assert (await ctx.execute(text("select 1"))).scalar() == 1
        conn = ctx._read_conn
        assert conn is not None
        await conn.invalidate()  # what a lost connection does to it
        # Either what SQLAlchemy says by itself, or what the context says instead.
        with pytest.raises((PendingRollbackError, ConnectionError)) as failure:
            await ctx.execute(text("select 1"))
        assert database_unavailable(failure.value), repr(failure.value)
    finally:
        await ctx.release()
        await engine.dispose()
