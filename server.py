"""The Starlette app: its routes (/graphql, /attachments, /health/*, GraphiQL assets), its
middleware and its lifespan. What each route does lives in the module it names:
`schema.endpoint` (/graphql and its authentication), `schema.downloads`, `schema.health`;
the request ids, the log format and the error boundary in `schema.middleware`. The command
line is `cli`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from auth.settings import Settings
from auth.tokens import TokenVerifier
from models.database import create_engine
from resolvers.context import Clock, system_clock
from resolvers.events import EventBus
from schema import build_schema
from schema.downloads import download_attachment
from schema.endpoint import GraphQLEndpoint
from schema.graphiql import ASSETS_DIR
from schema.health import live, ready, vital
from schema.http import GraphQLApp
from schema.middleware import (
    ErrorBoundary,
    RequestIdMiddleware,
    configure_logging,
    http_exception,
)

# `from server import ...` of the app's callers (tests, workers, bench) keeps working.
__all__ = ["ASSETS_URL", "ErrorBoundary", "configure_logging", "create_app"]

ASSETS_URL = "/graphiql-assets"


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
        multipart_uploads_enabled=True,  # behind the CSRF guard of schema.endpoint
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
        exception_handlers={HTTPException: http_exception},
    )
    app.add_middleware(ErrorBoundary)
    app.add_middleware(RequestIdMiddleware)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.clock = clock or system_clock
    return app
