"""GraphQL over HTTP: the strawberry view with this project's edge rules.

Every answer is JSON with an `extensions.code` on each error, whatever went wrong and
wherever: a body that is not UTF-8, not JSON, too deep or of the wrong shape is
`BAD_REQUEST` (400) before any SQL; a string holding NUL or a lone UTF-16 surrogate is
`BAD_USER_INPUT` before any SQL; a database that cannot serve is `SERVICE_UNAVAILABLE`
(503, `Retry-After`); anything else is `INTERNAL_SERVER_ERROR` with the request id that
the log line of its traceback also carries (`error_response`).

Responses follow the GraphQL-over-HTTP specification: a client that accepts
`application/graphql-response+json` gets that media type and the spec's status codes (a
request error, with no `data`, is a 4xx); `application/json` stays the default, with 200
for every GraphQL response, as most clients expect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import ExecutionResult

from auth.settings import Settings
from resolvers.context import Context
from resolvers.errors import ErrorCode, database_unavailable, failure_chain, request_id_var
from resolvers.events import LiveContext
from resolvers.validation import FORBIDDEN_CHARACTERS, FORBIDDEN_TEXT, forbidden_text
from schema.errors import add_missing_codes
from schema.graphiql import graphiql_html

log = logging.getLogger("siao.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# The same, written as escapes in a GraphQL document's string literals.
_FORBIDDEN_ESCAPES = re.compile(r"\\u(?:0000|\{0+\})", re.IGNORECASE)
_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    408: ErrorCode.REQUEST_TIMEOUT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


class RequestRefused(Exception):
    """A request answered with a coded error before execution (nothing ran)."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.message = message


class JsonRefused(RequestRefused, json.JSONDecodeError):
    """A JSON text refused by `GraphQLApp.decode_json`; a JSONDecodeError too, so that over
    the WebSocket strawberry closes the socket with 4400 (an invalid message) instead of
    crashing its handler."""


def error_body(code: ErrorCode, message: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}


def coded_response(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    media_type: str = JSON,
    **extensions: Any,
) -> Response:
    return JSONResponse(
        error_body(code, message, **extensions),
        status_code=status,
        headers=headers,
        media_type=media_type,
    )


def unavailable_response(settings: Settings) -> Response:
    seconds = settings.retry_after_seconds
    return coded_response(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        f"The database is unavailable; retry in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
        requestId=request_id_var.get(),
    )


def error_response(exc: BaseException, settings: Settings) -> Response:
    """The answer to an exception that escaped everything else: 503 when the database
    cannot serve (logged as a warning, no traceback: it is not a bug), else 500 with the
    request id (logged at ERROR with the traceback). Never Python's text."""
    if isinstance(exc, RequestRefused):
        return coded_response(exc.status, exc.code, exc.message)
    if database_unavailable(exc):
        log.warning("database unavailable: %s", failure_chain(exc))
        return unavailable_response(settings)
    request_id = request_id_var.get()
    log.error("internal error (request %s)", request_id, exc_info=exc)
    return coded_response(
        500,
        ErrorCode.INTERNAL_SERVER_ERROR,
        f"Internal error. Quote request id {request_id} to the support team.",
        requestId=request_id,
    )


# The longest a request body may stall between two chunks (a client that announces a body
# and sends it slowly, or never, would otherwise hold its request open for good).
BODY_CHUNK_SECONDS = 30


def limited_receive(receive: Receive, limit: int) -> Receive:
    """`receive` that refuses a body longer than `limit` bytes as it streams in (413),
    so that a huge body is never held in memory, and one that stalls (408)."""
    seen = 0
    complete = False

    async def wrapped() -> Message:
        nonlocal seen, complete
        if complete:  # after the body: waiting for a disconnect, as long as it takes
            return await receive()
        try:
            async with asyncio.timeout(BODY_CHUNK_SECONDS):
                message = await receive()
        except TimeoutError:
            raise RequestRefused(
                408,
                ErrorCode.REQUEST_TIMEOUT,
                f"The request body stalled for {BODY_CHUNK_SECONDS} seconds.",
            ) from None
        if message["type"] == "http.request":
            complete = not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > limit:
                raise RequestRefused(
                    413,
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    f"The request body is larger than {limit} bytes.",
                )
        return message

    return wrapped


def complete_multipart_receive(receive: Receive, content_type: str) -> Receive:
    """`receive` that refuses a multipart body ending before its closing boundary (400).
    The form parser drops such a truncated last part but leaves the temporary file it
    had opened for it open; refused while the body streams in, the parser closes every
    file it opened."""
    _, _, tail = content_type.partition("boundary=")
    boundary = tail.split(";")[0].strip().strip('"').encode("latin-1", "replace")
    closing = b"\r\n--" + boundary + b"--"
    seen = b""
    found = not boundary  # no boundary: the parser refuses the body itself

    async def wrapped() -> Message:
        nonlocal seen, found
        message = await receive()
        if message["type"] == "http.request" and not found:
            seen = seen[-len(closing) :] + message.get("body", b"")
            found = closing in seen
            if not found and not message.get("more_body", False):
                raise RequestRefused(
                    400,
                    ErrorCode.BAD_REQUEST,
                    "The multipart body ends before its closing boundary.",
                )
        return message

    return wrapped


def _json_depth_within(value: object, limit: int) -> bool:
    """Whether `value` nests at most `limit` levels (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item)
    return True


def _bad_text() -> RequestRefused:
    return RequestRefused(
        400,
        ErrorCode.BAD_USER_INPUT,
        FORBIDDEN_TEXT,
    )


def accepts_graphql_response(request: Request) -> bool:
    """The client asks for `application/graphql-response+json` (before, or without,
    `application/json`)."""
    accept = request.headers.get("accept", "")
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        if media == GRAPHQL_RESPONSE_JSON:
            return True
        if media in (JSON, "application/*", "*/*"):
            return False
    return False


def _status_of(response: dict[str, Any], graphql_response: bool) -> int:
    """The spec's status of a GraphQL response: 503 when the database failed before any
    data; with `application/graphql-response+json`, 4xx for a request error (no data)."""
    errors = response.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if response.get("data") is None and ErrorCode.SERVICE_UNAVAILABLE.value in codes:
        return 503
    if not graphql_response or "data" in response:
        return 200
    if codes == {ErrorCode.UNAUTHENTICATED.value}:
        return 401
    return 400


# graphql-transport-ws has no code for "retry later"; the WebSocket standard's 1013 (Try
# Again Later) tells a client to reconnect, where 4403 would tell it the token is bad.
TRY_AGAIN_LATER = 1013


class _LiveUnavailable(Exception):
    """The database could not be asked who a live connection's token names."""


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_subscribe(self, message: Any) -> None:
        payload = message.get("payload")
        if not (
            isinstance(message.get("id"), str)
            and isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables") or {}, dict)
            and isinstance(payload.get("operationName") or "", str)
        ):
            await self.websocket.close(code=4400, reason="Invalid subscribe message")
            return
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except _LiveUnavailable:
            await self.websocket.close(
                code=TRY_AGAIN_LATER, reason="The database is unavailable; retry later."
            )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson, an offline GraphiQL, and the edge
    rules of this module."""

    graphql_transport_ws_handler_class = TransportWsHandler

    def __init__(self, *args: Any, settings: Settings, assets_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.assets_url = assets_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            try:
                response = await self.run(request)
            finally:
                # The uploaded files of a multipart request, kept open by the form until
                # now, answered or refused (else a temp file each until the GC runs).
                await request.close()
        except HTTPException as exc:  # strawberry's own refusals (plain text otherwise)
            if isinstance(exc.__cause__, RequestRefused):  # ours, rewrapped by strawberry
                await self._refusal(request, exc.__cause__)(scope, receive, send)
                return
            status = exc.status_code
            if "content type" in exc.reason:
                status = 415
            elif "when using GET" in exc.reason:
                status = 405  # GraphQL over HTTP: a mutation over GET
            code = _STATUS_CODES.get(status, ErrorCode.BAD_REQUEST)
            allowed = "POST" if "when using GET" in exc.reason else "GET, POST"
            headers = {"Allow": allowed} if status == 405 else None
            response = coded_response(status, code, _sentence(exc.reason), headers=headers)
        except RequestRefused as exc:
            response = self._refusal(request, exc)
        await response(scope, receive, send)

    def _refusal(self, request: Request, exc: RequestRefused) -> Response:
        if accepts_graphql_response(request):
            return coded_response(
                exc.status, exc.code, exc.message, media_type=GRAPHQL_RESPONSE_JSON
            )
        return coded_response(exc.status, exc.code, exc.message)

    async def get_context(self, request: Any, response: Any = None) -> Context:
        ctx: Context = request.scope["state"]["siao_context"]
        if isinstance(ctx, LiveContext) and isinstance(response, WebSocket):
            ctx.close_socket = response.close  # the socket strawberry accepted
        return ctx

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html(self.assets_url))

    def decode_json(self, data: str | bytes) -> object:
        """orjson, then the edge's checks: UTF-8, JSON, nesting depth, the top level an
        object (a request, a multipart `map`), and no forbidden character in any string."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            reason = str(exc)
            if "surrogate" in reason and "not valid UTF-8" not in reason:
                # a lone surrogate escape: valid JSON, but not text
                raise JsonRefused(400, ErrorCode.BAD_USER_INPUT, FORBIDDEN_TEXT) from exc
            if "not valid UTF-8" in reason:
                message = "The body is not valid UTF-8."
            elif "depth limit" in reason:
                message = f"The JSON nests more than {self.settings.max_json_depth} levels."
            else:
                message = "The body is not valid JSON."
            raise JsonRefused(400, ErrorCode.BAD_REQUEST, message) from exc
        if not _json_depth_within(value, self.settings.max_json_depth):
            raise JsonRefused(
                400,
                ErrorCode.BAD_REQUEST,
                f"The JSON nests more than {self.settings.max_json_depth} levels.",
            )
        if forbidden_text(value):
            raise JsonRefused(400, ErrorCode.BAD_USER_INPUT, FORBIDDEN_TEXT)
        return value

    def parse_json(self, data: str | bytes) -> Any:
        value = self.decode_json(data)
        if isinstance(value, list):
            raise RequestRefused(
                400, ErrorCode.BAD_REQUEST, "Batched requests (a JSON array) are not supported."
            )
        if not isinstance(value, dict):
            raise RequestRefused(
                400, ErrorCode.BAD_REQUEST, "The body must be a JSON object with a `query`."
            )
        return value

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        try:
            return await super().parse_multipart(request)
        except (TypeError, IndexError, AttributeError, ValueError) as exc:
            # strawberry walks the `map` paths into `operations` without checking them
            raise RequestRefused(
                400,
                ErrorCode.BAD_REQUEST,
                "The multipart `map` names a path that is not in `operations`.",
            ) from exc

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        data = await super().parse_http_body(request)
        if isinstance(data, list):  # batching is off: strawberry refuses it before this
            raise RequestRefused(400, ErrorCode.BAD_REQUEST, "Batched requests are not supported.")
        if data.operation_name is not None and not isinstance(data.operation_name, str):
            raise RequestRefused(
                400, ErrorCode.BAD_REQUEST, "`operationName` must be a string or null."
            )
        for text in (data.query, data.operation_name):
            if text is not None and (
                FORBIDDEN_CHARACTERS.search(text) or _FORBIDDEN_ESCAPES.search(text)
            ):
                raise _bad_text()
        if request.method == "GET" and forbidden_text(data.variables):
            raise _bad_text()  # query parameters are not JSON-decoded by decode_json
        return data

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response: dict[str, Any] = add_missing_codes(
            dict(await super().process_result(request, result))
        )
        graphql_response = accepts_graphql_response(request)
        executed = result.data is not None or any(e.path for e in result.errors or [])
        if graphql_response and not executed:
            response.pop("data", None)  # a request error: execution never began
        status = _status_of(response, graphql_response)
        sub_response = request.scope.get("siao_sub_response")
        if sub_response is not None:
            sub_response.status_code = status if status != 200 else None
            if status == 503:
                sub_response.headers["Retry-After"] = str(self.settings.retry_after_seconds)
            sub_response.siao_media_type = GRAPHQL_RESPONSE_JSON if graphql_response else JSON
        # The same dict, with codes added: strawberry's TypedDict has no room for a
        # response without `data` (a request error under graphql-response+json).
        return cast(GraphQLHTTPResponse, response)

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request):
            request.scope["siao_sub_response"] = sub_response
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = getattr(sub_response, "siao_media_type", None)
        if media_type is not None:
            response.headers["content-type"] = media_type
        return response

    async def on_ws_connect(self, context: Context) -> Any:
        """graphql-transport-ws: the token comes in the connection_init payload
        (`{"Authorization": "Bearer <token>"}`); without a valid one, the socket closes
        with 4403 before any subscription starts. Once open, the session is watched by
        the process's event bus until it closes (`resolvers.events`: it ends, 4403 with
        a reason, when the token expires or the account is disabled)."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization") or ""
        scheme, _, token = str(header).partition(" ")
        if scheme.lower() != "bearer" or context.authenticate is None:
            raise ConnectionRejectionError
        try:
            context.viewer = await context.authenticate(token.strip())
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database unavailable: live connection refused (%s)", failure_chain(exc))
            raise _LiveUnavailable from exc
        if context.viewer is None:
            raise ConnectionRejectionError
        if isinstance(context, LiveContext) and context.events is not None:
            context.events.watch(context)
        return await super().on_ws_connect(context)

    def encode_json(self, data: object) -> str:
        # A str, not bytes: graphql-transport-ws messages must be text frames. A value
        # orjson refuses (a lone surrogate echoed in a message) is escaped by json.
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            import json

            return json.dumps(data, separators=(",", ":"))


def _sentence(reason: str) -> str:
    reason = reason.strip() or "Bad request."
    reason = reason[0].upper() + reason[1:]
    return reason if reason.endswith((".", "?", "!")) else reason + "."
