"""Live sessions (graphql-transport-ws) end with their rights: a subscription is closed
(4403, with the reason) instead of delivering once its token has expired on the app's
clock, its account is disabled or its role no longer reads what it streams; the periodic
check ends a session that receives no events; and each delivered event's
`extensions.sql` counts that event's own work only.

The app is served over a real socket in the test's event loop, on a clock the tests move:
nothing here sleeps, every wait is for a message, a close or a subscriber to register."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.typing import Subprotocol

from auth.settings import Settings
from auth.tokens import mint_dev_token
from resolvers.events import ACCOUNT_DISABLED, RIGHTS_CHANGED, TOKEN_EXPIRED
from server import create_app
from tests.conftest import Run
from tests.test_lifecycle import fresh_demand
from tests.test_notes import MovableClock

Viewer = Callable[[str | None], Run]
OPERATOR = "siao.75@demo.siao"
BETA = "sw.beta@demo.siao"  # follows 7500000041-80 only
BETA_HOUSEHOLD = "7500000045"
ALPHA_HOUSEHOLD = "7500000022"  # Alpha's: sw.beta may not see it
HOUR = 3600.0
# A safety net against a hang, never a timing assertion: every wait ends on a message.
LIMIT = 30

DEMAND_CHANGED = """
subscription ($territory: String!) {
  demandChanged(territory: $territory) { id status household { reference } }
}"""
ME = "{ me { login } }"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture
def session_check_seconds() -> float:
    """The period of the event bus's check: an hour, so that in most tests only events
    end a session; a test of the periodic check parametrizes it."""
    return HOUR


@pytest.fixture
async def app(
    settings: Settings, database_url: str, clock: MovableClock, session_check_seconds: float
) -> AsyncIterator[Starlette]:
    application = create_app(
        replace(settings, session_check_seconds=session_check_seconds), database_url, clock=clock
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def server(app: Starlette) -> AsyncIterator[str]:
    """The app behind a real socket (WebSockets need one), in this event loop. The socket
    listens before the server starts: a client may connect at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        uv.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def live(url: str, token: str) -> AsyncIterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert await receive(ws) == {"type": "connection_ack"}
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), LIMIT))
    return message


async def subscribe(app: Starlette, ws: ClientConnection, territory: str = "75") -> None:
    """Subscribes to demandChanged, and returns once the server listens for it."""
    payload = {"query": DEMAND_CHANGED, "variables": {"territory": territory}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    await asyncio.wait_for(app.state.events.wait_for_subscribers(1), LIMIT)


async def delivered(ws: ClientConnection) -> dict[str, Any]:
    """The next event (its `data` and `extensions`)."""
    message = await receive(ws)
    assert message["type"] == "next", message
    payload: dict[str, Any] = message["payload"]
    assert "errors" not in payload, payload
    return payload


async def closed(ws: ClientConnection) -> Close:
    """The close frame the server sent; fails ("DID NOT RAISE") if a message comes
    before it."""
    with pytest.raises(ConnectionClosed) as ended:
        await asyncio.wait_for(ws.recv(), LIMIT)
    close = ended.value.rcvd
    assert close is not None, "the server did not close the socket"
    return close


def short_token(settings: Settings, login: str) -> str:
    return mint_dev_token(settings, login, ttl=timedelta(minutes=10))


async def test_an_expired_token_closes_the_subscription_instead_of_delivering(
    app: Starlette,
    server: str,
    settings: Settings,
    clock: MovableClock,
    as_user: Viewer,
    sql: asyncpg.Connection,
) -> None:
    operator = as_user(OPERATOR)  # the writer's own token lasts 12 hours
    token = short_token(settings, OPERATOR)
    async with live(server, token) as ws:
        await subscribe(app, ws)
        first = await fresh_demand(operator, sql, "7500000021", "EMERGENCY")
        assert (await delivered(ws))["data"]["demandChanged"]["id"] == first

        clock.advance(timedelta(minutes=11))  # the token expired a minute ago
        await fresh_demand(operator, sql, "7500000023", "EMERGENCY")
        close = await closed(ws)
    assert (close.code, close.reason) == (4403, TOKEN_EXPIRED)

    # the same token cannot open a new session either (the verifier's leeway aside)
    async with connect(server, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert (await closed(ws)).code == 4403


async def test_a_disabled_account_closes_the_subscription_on_its_next_event(
    app: Starlette, server: str, settings: Settings, as_user: Viewer, sql: asyncpg.Connection
) -> None:
    operator = as_user(OPERATOR)
    async with live(server, short_token(settings, BETA)) as ws:
        await subscribe(app, ws)
        first = await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        assert (await delivered(ws))["data"]["demandChanged"]["id"] == first

        await sql.execute("UPDATE users SET active = false WHERE login = $1", BETA)
        await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        close = await closed(ws)
    assert (close.code, close.reason) == (4403, ACCOUNT_DISABLED)


async def test_rights_are_read_again_for_each_event(
    app: Starlette, server: str, settings: Settings, as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """An account still active whose role no longer reads demands (an observer reads
    anonymised indicators only): the next event closes the session."""
    operator = as_user(OPERATOR)
    async with live(server, short_token(settings, BETA)) as ws:
        await subscribe(app, ws)
        first = await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        assert (await delivered(ws))["data"]["demandChanged"]["id"] == first

        await sql.execute("UPDATE users SET role = 'OBSERVER' WHERE login = $1", BETA)
        await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        close = await closed(ws)
    assert (close.code, close.reason) == (4403, RIGHTS_CHANGED)


@pytest.mark.parametrize("session_check_seconds", [0.05])
@pytest.mark.parametrize("ending", ["token expires", "account disabled"])
async def test_the_periodic_check_ends_a_session_without_events(
    app: Starlette,
    server: str,
    settings: Settings,
    clock: MovableClock,
    sql: asyncpg.Connection,
    ending: str,
) -> None:
    """No event comes: the event bus's check (every `SIAO_SESSION_CHECK_SECONDS`, here
    50 ms) closes the socket all the same."""
    async with live(server, short_token(settings, BETA)) as ws:
        await subscribe(app, ws)
        if ending == "token expires":
            clock.advance(timedelta(minutes=11))
        else:
            await sql.execute("UPDATE users SET active = false WHERE login = $1", BETA)
        close = await closed(ws)
    expected = TOKEN_EXPIRED if ending == "token expires" else ACCOUNT_DISABLED
    assert (close.code, close.reason) == (4403, expected)


async def test_queries_over_a_socket_whose_token_expired_are_refused(
    server: str, settings: Settings, clock: MovableClock
) -> None:
    async with live(server, short_token(settings, BETA)) as ws:
        await ws.send(json.dumps({"id": "q1", "type": "subscribe", "payload": {"query": ME}}))
        assert (await delivered(ws))["data"] == {"me": {"login": BETA}}
        assert await receive(ws) == {"id": "q1", "type": "complete"}

        clock.advance(timedelta(minutes=11))
        await ws.send(json.dumps({"id": "q2", "type": "subscribe", "payload": {"query": ME}}))
        message = await receive(ws)
    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["UNAUTHENTICATED"]


async def test_an_event_counts_only_its_own_statements(
    app: Starlette, server: str, settings: Settings, as_user: Viewer, sql: asyncpg.Connection
) -> None:
    """sw.beta cannot see Alpha's households: the events of three demands made there
    before one of Beta's cost her subscription three loads, which her next event's
    `extensions.sql` must not count (it would tell her how many hidden changes
    happened)."""
    operator = as_user(OPERATOR)
    async with live(server, short_token(settings, BETA)) as ws:
        await subscribe(app, ws)
        first = await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        alone = await delivered(ws)
        assert alone["data"]["demandChanged"]["id"] == first

        for _ in range(3):
            await fresh_demand(operator, sql, ALPHA_HOUSEHOLD, "EMERGENCY")
        second = await fresh_demand(operator, sql, BETA_HOUSEHOLD, "EMERGENCY")
        after_hidden = await delivered(ws)
    assert after_hidden["data"]["demandChanged"]["id"] == second  # nothing of Alpha's came
    assert alone["extensions"]["sql"]["statements"] > 0
    assert (
        after_hidden["extensions"]["sql"]["statements"]
        == (alone["extensions"]["sql"]["statements"])
    )
