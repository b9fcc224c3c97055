"""/graphql over HTTP and WebSocket: who is asking (the bearer token), whether the request
may be read at all (size, CSRF guard of uploads), then the per-request `Context` and the
GraphQL view. `authenticate` and `http_error` serve the other routes too."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from auth.settings import Settings
from auth.tokens import Claims, InvalidToken, TokenVerifier
from auth.viewer import Viewer
from resolvers.context import Context
from resolvers.errors import ErrorCode, request_id_var
from resolvers.events import LiveContext
from resolvers.organisation import load_viewer
from schema.http import GraphQLApp, complete_multipart_receive, limited_receive

log = logging.getLogger("siao")


def unauthorized(reason: str) -> JSONResponse:
    body = {
        "errors": [
            {
                "message": f"Invalid bearer token: {reason}.",
                "extensions": {"code": ErrorCode.UNAUTHENTICATED.value},
            }
        ]
    }
    return JSONResponse(
        body, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


async def _verify(verifier: TokenVerifier, token: str) -> Claims:
    if verifier.remote:  # may fetch the IdP's keys: keep blocking I/O off the event loop
        return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)


class GraphQLEndpoint:
    """Identity before GraphQL: a bearer token that cannot be trusted gets HTTP 401 with a
    short reason (never its content); no token gets a viewer-less context (introspection
    only). The per-request Context is built here and closed after the response."""

    def __init__(self, graphql: GraphQLApp) -> None:
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app_state = scope["app"].state
        settings: Settings = app_state.settings
        if scope["type"] == "websocket":
            await self._live(scope, receive, send)
            return
        ctx = Context(
            engine=app_state.engine,
            settings=settings,
            request_id=request_id_var.get(),
            viewer=None,
            events=app_state.events,
            clock=app_state.clock,
            search_slots=app_state.search_slots,
        )
        try:
            request = Request(scope)
            refusal = (
                _upload_refusal(request, settings)
                or _body_refusal(request, settings)
                or await authenticate(request, ctx)
            )
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            # The body is read from here on, at the client's pace: without a connection
            # held (30 slow clients with a token would otherwise take the whole pool).
            await ctx.release()
            scope.setdefault("state", {})["siao_context"] = ctx
            if _is_multipart(request):
                receive = complete_multipart_receive(
                    limited_receive(receive, settings.max_upload_bytes + MULTIPART_OVERHEAD),
                    request.headers.get("content-type", ""),
                )
            else:
                receive = limited_receive(receive, settings.max_body_bytes)
            await self.graphql(scope, receive, send)
        finally:
            await _close(ctx)

    async def _live(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket connection: one context for all its operations, whose session
        keeps the claims of its token (their expiry ends it)."""
        app_state = scope["app"].state
        ctx = LiveContext(
            engine=app_state.engine,
            settings=app_state.settings,
            request_id=request_id_var.get(),
            viewer=None,
            events=app_state.events,
            clock=app_state.clock,
            search_slots=app_state.search_slots,
        )

        async def authenticate(token: str) -> Viewer | None:
            try:
                claims = await _verify(app_state.verifier, token)
            except InvalidToken:
                return None
            ctx.claims = claims
            if ctx.expired():  # within the verifier's leeway, but past on the app's clock
                return None
            return await load_viewer(ctx, claims)

        ctx.authenticate = authenticate
        scope.setdefault("state", {})["siao_context"] = ctx
        try:
            await self.graphql(scope, receive, send)
        finally:
            if ctx.events is not None:
                ctx.events.forget(ctx)
            await _close(ctx)


def http_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight")
MULTIPART_OVERHEAD = 1024 * 1024  # bytes of a multipart body besides the file itself


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


def _declared_length(request: Request) -> int | None:
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def _body_refusal(request: Request, settings: Settings) -> Response | None:
    """A JSON body declared larger than `SIAO_MAX_BODY_BYTES` is refused before it is read
    (one that does not declare its length is cut off as it streams: `limited_receive`).
    Threat stopped: a client without a token making the server read and parse megabytes."""
    length = _declared_length(request)
    if _is_multipart(request) or length is None or length <= settings.max_body_bytes:
        return None
    return http_error(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE.value,
        f"The request body is larger than {settings.max_body_bytes} bytes.",
    )


async def _close(ctx: Context) -> None:
    """Closes the request's context after the response; a connection that the database
    dropped meanwhile cannot fail the request any more (it is discarded)."""
    try:
        await ctx.close()
    except Exception as exc:
        log.warning("context not closed cleanly: %s", type(exc).__name__)


def _upload_refusal(request: Request, settings: Settings) -> Response | None:
    """CSRF guard of multipart requests (uploads): a browser sends a cross-site form post
    without asking, but not one with a custom header, which needs a CORS preflight this
    server never grants. So a multipart request must carry `GraphQL-Require-Preflight`
    (or Apollo's `Apollo-Require-Preflight`). A body far above the upload limit is refused
    before it is read."""
    if not _is_multipart(request):
        return None
    if not any(request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS):
        return http_error(
            400,
            "CSRF_PREFLIGHT_REQUIRED",
            "Multipart requests (uploads) need the header `GraphQL-Require-Preflight: 1`.",
        )
    length = _declared_length(request)
    if length is not None and length > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        return http_error(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request is larger than the upload limit ({settings.max_upload_bytes} bytes).",
        )
    return None


async def authenticate(
    request: Request, ctx: Context, *, required: bool = False
) -> Response | None:
    """Sets `ctx.viewer` from the bearer token, or answers 401 (with a short reason, never
    the token's content). Without a token: no viewer, unless `required`."""
    header = request.headers.get("authorization")
    if not header:
        return unauthorized("a bearer token is required") if required else None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("expected `Bearer <token>`")
    try:
        claims = await _verify(request.app.state.verifier, token.strip())
    except InvalidToken as exc:
        return unauthorized(exc.reason)
    ctx.viewer = await load_viewer(ctx, claims)
    if ctx.viewer is None:
        return unauthorized("unknown or inactive user")
    return None
