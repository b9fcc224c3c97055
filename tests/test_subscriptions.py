"""Live updates across server processes: a subscriber connected to a second server process
receives the changes made through the first, and never one about a household it may not
see."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from auth.policy import DemandAction
from tests.conftest import Run
from tests.test_lifecycle import do, fresh_demand, place_of
from tests.test_mutations import gid

Viewer = Callable[[str | None], Run]
STARTUP_TIMEOUT = 60
ROUNDS = 20
ROUND_SECONDS = 1.0
EVENT_ROUND_LIMIT = 10

DEMAND_CHANGED = """
subscription ($territory: String!) {
  demandChanged(territory: $territory) { id status household { reference } }
}"""
ORIENTATION_PROPOSED = """
subscription ($structure: ID!) {
  orientationProposed(structureId: $structure) { id status demand { id } }
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def second_server(database_url: str, data_dir: Path) -> AsyncIterator[str]:
    """Another server process on the same database (as behind a load balancer)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SIAO_DATA_DIR": str(data_dir),
        "SIAO_ENV": "dev",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "cli:app_factory",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "info",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None

    async def started() -> None:
        assert process.stderr is not None
        while b"Uvicorn running on" not in await process.stderr.readline():
            if process.returncode is not None:
                raise RuntimeError("the second server exited")

    try:
        await asyncio.wait_for(started(), STARTUP_TIMEOUT)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        process.terminate()
        await process.wait()


def _transport(url: str, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        close_timeout=1,
    )


async def _collect(
    url: str,
    token: str,
    document: str,
    variables: dict[str, Any],
    count: int,
    trigger: Callable[[], Awaitable[None]],
) -> list[dict[str, Any]]:
    """Subscribe, then trigger events until `count` have arrived. The first triggers may
    happen before the server registered the subscription (they are then not delivered):
    each round waits for an event for a short while, in a bounded number of rounds."""
    received: list[dict[str, Any]] = []
    async with Client(transport=_transport(url, token)) as session:
        stream = session.subscribe(GraphQLRequest(document, variable_values=variables))
        pending: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(anext(stream))
        for _ in range(ROUNDS):
            await trigger()
            done, _ = await asyncio.wait({pending}, timeout=ROUND_SECONDS)
            while done:
                received.append(pending.result())
                if len(received) == count:
                    pending.cancel()
                    return received
                pending = asyncio.ensure_future(anext(stream))
                done, _ = await asyncio.wait({pending}, timeout=ROUND_SECONDS)
        pending.cancel()
    return received


async def test_a_subscriber_on_another_process_receives_demand_changes(
    as_user: Viewer, token: Callable[[str], str], second_server: str, sql: asyncpg.Connection
) -> None:
    siao = as_user("siao.75@demo.siao")
    created: list[str] = []

    async def trigger() -> None:
        created.append(await fresh_demand(siao, sql, "7500000021", "EMERGENCY"))

    events = await _collect(
        second_server,
        token("siao.75@demo.siao"),
        DEMAND_CHANGED,
        {"territory": "75"},
        1,
        trigger,
    )
    assert len(events) == 1
    change = events[0]["demandChanged"]
    assert change["id"] in created
    assert change["status"] == "SUBMITTED"
    assert change["household"] == {"reference": "7500000021"}


async def test_a_subscriber_never_receives_a_household_it_may_not_see(
    as_user: Viewer, token: Callable[[str], str], second_server: str, sql: asyncpg.Connection
) -> None:
    """sw.beta follows 7500000041-80 only. Each round changes a household of Alpha's, then
    one of Beta's: once the subscription is live, a leak would arrive first."""
    siao = as_user("siao.75@demo.siao")
    alpha, beta = "7500000022", "7500000045"
    created: dict[str, list[str]] = {alpha: [], beta: []}

    async def trigger() -> None:
        for reference in (alpha, beta):
            created[reference].append(await fresh_demand(siao, sql, reference, "EMERGENCY"))

    events = await _collect(
        second_server,
        token("sw.beta@demo.siao"),
        DEMAND_CHANGED,
        {"territory": "75"},
        2,
        trigger,
    )
    assert len(events) == 2
    for event in events:
        assert event["demandChanged"]["id"] in created[beta]
        assert event["demandChanged"]["household"] == {"reference": beta}


async def test_a_structure_manager_hears_of_orientations_proposed_to_their_structure(
    as_user: Viewer, token: Callable[[str], str], second_server: str, sql: asyncpg.Connection
) -> None:
    siao = as_user("siao.75@demo.siao")
    place = await place_of(sql, "CHRS Les Tilleuls", "INSERTION")
    await sql.execute(
        "UPDATE places SET vacancies = 0, capacity = capacity + 20 WHERE id = $1", place["id"]
    )
    await sql.execute("UPDATE places SET vacancies = 20 WHERE id = $1", place["id"])
    proposed: list[str] = []
    references = iter(f"75{n:08d}" for n in range(23, 40))

    async def trigger() -> None:
        demand = await fresh_demand(siao, sql, next(references), "INSERTION")
        result = await do(
            siao, DemandAction.ORIENT, demandId=demand, placeId=gid("Place", place["id"])
        )
        assert result["userErrors"] == []
        proposed.append(result["orientation"]["id"])

    structure = gid("Structure", place["organisation_id"])
    events = await _collect(
        second_server,
        token("manager.chrs@demo.siao"),
        ORIENTATION_PROPOSED,
        {"structure": structure},
        1,
        trigger,
    )
    assert len(events) == 1
    assert events[0]["orientationProposed"]["id"] in proposed
    assert events[0]["orientationProposed"]["status"] == "PROPOSED"


async def test_a_socket_without_a_valid_token_is_refused(second_server: str) -> None:
    from gql.transport.exceptions import TransportError
    from websockets.exceptions import WebSocketException

    async def subscribe_with_a_forged_token() -> None:
        async with Client(transport=_transport(second_server, "forged")) as session:
            request = GraphQLRequest(DEMAND_CHANGED, variable_values={"territory": "75"})
            await asyncio.wait_for(anext(session.subscribe(request)), EVENT_ROUND_LIMIT)

    with pytest.raises((TransportError, WebSocketException, ConnectionError)):
        await subscribe_with_a_forged_token()
