"""GET /attachments/<id>?link=<link>: an attachment's file, streamed to the viewer its
signed link was made for."""

from __future__ import annotations

import urllib.parse
import uuid

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from auth.links import InvalidLink, check_link
from auth.policy import SITUATION_CATEGORY, SituationSection
from auth.settings import Settings
from models.storage import LocalStorage
from resolvers.attachment import load_attachment
from resolvers.context import Context
from resolvers.errors import request_id_var
from schema.endpoint import authenticate, http_error


async def download_attachment(request: Request) -> Response:
    """GET /attachments/<id>?link=<link>: the file, to the viewer the link was made for,
    before it expires, if they still may read its section (the row scope and category are
    checked again now). The read is logged like any read of the category."""
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
        refusal = await authenticate(request, ctx, required=True)
        if refusal is not None:
            return refusal
        try:
            attachment_id = uuid.UUID(request.path_params["attachment_id"])
        except ValueError:
            return http_error(404, "NOT_FOUND", "No such attachment.")
        try:
            check_link(
                settings,
                request.query_params.get("link", ""),
                attachment_id,
                ctx.authenticated.login,
                ctx.now,
            )
        except InvalidLink as exc:
            return http_error(403, exc.code, f"Download refused: {exc.reason}.")
        row = await load_attachment(ctx, attachment_id)
        if row is None:
            return http_error(404, "NOT_FOUND", "No such attachment.")
        ctx.note_access(row.household_id, SITUATION_CATEGORY[SituationSection(row.section)])
        await ctx.flush_access_log()
        try:
            chunks = LocalStorage(settings.attachments_dir).open_chunks(row.storage_key)
        except FileNotFoundError:  # deleted since the row was read
            return http_error(404, "NOT_FOUND", "No such attachment.")
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
