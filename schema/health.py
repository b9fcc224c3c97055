"""/health/live, /health/ready (for an orchestrator's probes) and /health/vital (the two
vital functions exercised, for whoever is on call)."""

from __future__ import annotations

import asyncio
import hmac
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.settings import Settings
from migrations import head_revision
from resolvers.context import Context
from resolvers.errors import ErrorCode, request_id_var
from resolvers.vital import ON_CALL_ROLES, vital_check
from schema.endpoint import authenticate, http_error

log = logging.getLogger("siao")


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


async def on_call_refusal(request: Request) -> Response | None:
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
        return http_error(403, ErrorCode.FORBIDDEN.value, "Wrong on-call secret.")
    if not request.headers.get("authorization"):
        return http_error(
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
        refusal = await authenticate(request, ctx, required=True)
    finally:
        await ctx.close()
    if refusal is not None:
        return refusal
    if ctx.authenticated.role not in ON_CALL_ROLES:
        return http_error(403, ErrorCode.FORBIDDEN.value, "The vital check is for on-call roles.")
    return None


async def vital(request: Request) -> Response:
    """The two vital functions, exercised and rolled back: for whoever is on call."""
    refusal = await on_call_refusal(request)
    if refusal is not None:
        return refusal
    result = await vital_check(request.app.state.engine)
    ok = all(part["ok"] for part in result.values())
    return JSONResponse(
        {"status": "ok" if ok else "failing", **result}, status_code=200 if ok else 503
    )
