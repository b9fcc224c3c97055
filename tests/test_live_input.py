"""Input hygiene over the WebSocket, as over HTTP: the edge's checks of schema/http.py do
not see WebSocket messages, so the schema's own gate repeats them for every transport."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from auth.settings import Settings
from auth.tokens import mint_dev_token
from tests.test_sessions import app, clock, live, receive, server, session_check_seconds

__all__ = ["app", "clock", "server", "session_check_seconds"]  # fixtures shared with sessions

OPERATOR = "siao.75@demo.siao"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ('{ searchPersons(query: "ab\\u0000cd") { totalCount } }', {}),
        (
            'query($t: String = "a\\u0000") { households(filter: {territory: $t}) { totalCount } }',
            {},
        ),
    ],
)
async def test_nul_in_a_document_over_the_socket_is_bad_user_input(
    server: str, settings: Settings, document: str, variables: dict[str, str]
) -> None:
    async with live(server, mint_dev_token(settings, OPERATOR)) as ws:
        payload = {"query": document, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = await receive(ws)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_errors_over_the_socket_carry_a_code(server: str, settings: Settings) -> None:
    async with live(server, mint_dev_token(settings, OPERATOR)) as ws:
        payload = {"query": "{ nope }"}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = await receive(ws)
    assert message["type"] == "error"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    "frame",
    [
        '{"id": "1", "type": "subscribe", "payload": "x"}',
        '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
        '{"id": "1", "type": "subscribe", "payload": {"query": "{ me { login } }", '
        '"variables": {"v": "a\\u0000"}}}',
        "{nope",
        "[" * 1000 + "]" * 1000,
    ],
)
async def test_a_malformed_message_closes_the_socket_with_4400(
    server: str, settings: Settings, frame: str
) -> None:
    async with live(server, mint_dev_token(settings, OPERATOR)) as ws:
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
