"""Attachments: reading (scoped, and filtered by the categories the viewer may read) and
`addAttachment` (checked, stored, recorded, or refused leaving no file).

An upload is read in chunks into a temporary file of the storage while its SHA-256 is
computed; past `max_upload_bytes` the reading stops. Its type is told by its first bytes
(`filetype`) and must be allowed and equal to the type the client declared for the part.
Only then is the row written, in the transaction that also writes the audit event; the
file is moved into place just before the commit and deleted again if the commit fails.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import Row, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import SITUATION_CATEGORY, Access, SituationSection
from models import Attachment, Household
from models.attachment import ALLOWED_TYPES, FILE_NAME_MAX
from models.situation import ATTACHMENT_ENTITY_TYPE
from models.storage import CHUNK, LocalStorage, Storage
from resolvers import audit
from resolvers.context import Context
from resolvers.loader_base import ManyLoader, SqlLoader, many_per_key, one_per_key
from resolvers.loaders import Later, now_or_later
from resolvers.situation_write import check_may_write, lock_owner, owner_problems
from resolvers.writes import Problem, Refused, bump_activity, write_instant

attachments_t: Table = Attachment.__table__


class AttachmentErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    PERSON_REQUIRED = "PERSON_REQUIRED"
    PERSON_NOT_EXPECTED = "PERSON_NOT_EXPECTED"
    TOO_LARGE = "TOO_LARGE"
    EMPTY_FILE = "EMPTY_FILE"
    FORBIDDEN_TYPE = "FORBIDDEN_TYPE"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    INVALID_FILE_NAME = "INVALID_FILE_NAME"


log = logging.getLogger(__name__)


def storage(ctx: Context) -> Storage:
    return LocalStorage(ctx.settings.attachments_dir)


def readable_sections(ctx: Context) -> list[str]:
    viewer = ctx.authenticated
    return [s.value for s, c in SITUATION_CATEGORY.items() if viewer.may(c, Access.READ)]


class AttachmentsByHouseholdLoader(ManyLoader[uuid.UUID]):
    """A household's attachments, newest first, of the sections the viewer may read."""

    shows = "Attachment"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[list[Row[Any]]]:
        t = attachments_t
        stmt = (
            select(t)
            .where(
                t.c.household_id.in_(keys),
                t.c.household_id.in_(self.ctx.scope.household_ids()),
                t.c.section.in_(readable_sections(self.ctx)),
            )
            .order_by(t.c.created_at.desc(), t.c.id)
        )
        return many_per_key(await self.rows(stmt), keys, "household_id")


class AttachmentByIdLoader(SqlLoader[uuid.UUID, Row[Any] | None]):
    shows = "Attachment"

    async def load_batch(self, keys: list[uuid.UUID]) -> list[Row[Any] | None]:
        t = attachments_t
        stmt = select(t).where(
            t.c.id.in_(keys),
            t.c.household_id.in_(self.ctx.scope.household_ids()),
            t.c.section.in_(readable_sections(self.ctx)),
        )
        return one_per_key(await self.rows(stmt), keys)


def attachments(ctx: Context, household_id: uuid.UUID) -> Later[list[Row[Any]]]:
    return now_or_later(ctx.loaders.attachments_by_household, household_id)


def attachment(ctx: Context, attachment_id: uuid.UUID) -> Later[Row[Any] | None]:
    return now_or_later(ctx.loaders.attachment_by_id, attachment_id)


async def load_attachment(ctx: Context, attachment_id: uuid.UUID) -> Row[Any] | None:
    """The attachment's row, for a caller that awaits it (the download endpoint)."""
    return await ctx.loaders.attachment_by_id.load(attachment_id)


# --- upload ----------------------------------------------------------------------------


@dataclass
class Added:
    attachment_id: uuid.UUID | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Upload:
    """What the multipart request brought: the part's file name, declared type, and a way
    to read it (Starlette's UploadFile)."""

    file_name: str | None
    declared_type: str | None
    file: Any


def clean_file_name(raw: str | None) -> str | None:
    """The base name, NFC, without control characters or path parts; None if nothing is
    left or it is too long."""
    if not raw:
        return None
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in name):
        return None
    if not name or name in (".", "..") or len(name) > FILE_NAME_MAX:
        return None
    return name


def _problem(code: AttachmentErrorCode, message: str) -> Problem:
    return Problem(code, message, ["file"])


async def _receive(upload: Upload, target: Path, limit: int) -> tuple[int, str, bytes] | Problem:
    """Copy the upload to `target`: (size, sha256, first bytes), or why not."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with target.open("wb") as out:
        while chunk := await upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                return _problem(
                    AttachmentErrorCode.TOO_LARGE,
                    f"The file is larger than {limit // (1024 * 1024)} MiB.",
                )
            if len(head) < 262:
                head += chunk[: 262 - len(head)]
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        return _problem(AttachmentErrorCode.EMPTY_FILE, "The file is empty.")
    return size, digest.hexdigest(), head


def _type_problem(declared: str | None, head: bytes) -> Problem | None:
    allowed = ", ".join(ALLOWED_TYPES)
    kind = filetype.guess(head)
    actual = kind.mime if kind is not None else None
    if actual not in ALLOWED_TYPES:
        return _problem(
            AttachmentErrorCode.FORBIDDEN_TYPE,
            f"This kind of file cannot be attached ({actual or 'unknown'}); allowed: {allowed}.",
        )
    declared_type = (declared or "").split(";", 1)[0].strip().lower()
    if declared_type != actual:
        return _problem(
            AttachmentErrorCode.TYPE_MISMATCH,
            f"The file was sent as {declared_type or 'no type'} but its content is {actual}.",
        )
    return None


def _described(
    name: str,
    section: SituationSection,
    content_type: str,
    size: int,
    sha256: str,
    person_id: uuid.UUID | None,
) -> dict[str, Any]:
    """What the change log keeps of an attachment, added (after) or removed (before)."""
    return {
        "fileName": name,
        "section": section,
        "contentType": content_type,
        "size": size,
        "sha256": sha256,
        "person": person_id,
    }


async def add_attachment(
    ctx: Context,
    household_id: uuid.UUID,
    person_id: uuid.UUID | None,
    section: SituationSection,
    upload: Upload,
) -> Added:
    check_may_write(ctx, section)
    owner = owner_problems(section, person_id, AttachmentErrorCode)
    if owner:
        return Added(problems=owner)
    name = clean_file_name(upload.file_name)
    if name is None:
        return Added(
            problems=[
                _problem(
                    AttachmentErrorCode.INVALID_FILE_NAME,
                    f"The file needs a name of at most {FILE_NAME_MAX} characters, without "
                    "control characters.",
                )
            ]
        )
    store = storage(ctx)
    temporary = store.temporary()
    key = uuid.uuid4().hex
    moved = False
    try:
        received = await _receive(upload, temporary, ctx.settings.max_upload_bytes)
        if isinstance(received, Problem):
            return Added(problems=[received])
        size, sha256, head = received
        problem = _type_problem(upload.declared_type, head)
        if problem is not None:
            return Added(problems=[problem])
        content_type = filetype.guess(head).mime
        try:
            async with ctx.transaction() as session:
                household = await lock_owner(
                    session, ctx, household_id, person_id, AttachmentErrorCode
                )
                at = await write_instant(session)
                row = Attachment(
                    id=uuid.uuid4(),
                    household_id=household.id,
                    person_id=person_id,
                    section=section,
                    file_name=name,
                    content_type=content_type,
                    size=size,
                    sha256=sha256,
                    storage_key=key,
                    created_at=at,
                    created_by=ctx.authenticated.user_id,
                )
                session.add(row)
                await session.flush()
                audit.record(
                    session,
                    ctx,
                    at=at,
                    action="CREATE",
                    entity_type=ATTACHMENT_ENTITY_TYPE[section],
                    entity_id=row.id,
                    household_id=household.id,
                    changes=audit.field_changes(
                        {}, _described(name, section, content_type, size, sha256, person_id)
                    ),
                )
                await bump_activity(session, household.id, at)
                store.put(key, temporary)  # last step before the commit
                moved = True
        except Refused as refused:
            return Added(problems=refused.problems)
        except BaseException:
            if moved:
                store.delete(key)
            raise
        return Added(attachment_id=row.id)
    finally:
        temporary.unlink(missing_ok=True)


# --- removal ---------------------------------------------------------------------------


async def delete_attachment(ctx: Context, attachment_id: uuid.UUID) -> list[Problem]:
    """Removes an attachment (a wrong document, someone else's papers): the row goes with
    its audit event (what it was, for the change log) in one transaction, the bytes once
    that is committed (a file left by a failure there is removed by `sweep`). An attachment
    the viewer may not read (row scope, section category) is NOT_FOUND, as if it did not
    exist; one they may read but not write is FORBIDDEN. Allowed whatever the household's
    state or the member's presence: a document kept by mistake must be removable from a
    closed household (whose last activity, which drives purges, does not move) or a former
    member's section too.

    Locks: the attachment row only (FOR UPDATE), as `delete_note` does with its note; no
    household lock. A merge updates attachment rows and then writes audit events (whose
    foreign key takes FOR KEY SHARE on the household): holding the household FOR UPDATE
    while waiting for the attachment would deadlock with it."""
    t = attachments_t
    try:
        async with ctx.transaction() as session:
            row = (
                await session.execute(
                    select(t, Household.closed_at)
                    .join(Household, Household.id == t.c.household_id)
                    .where(
                        t.c.id == attachment_id,
                        t.c.household_id.in_(ctx.scope.household_ids()),
                        t.c.section.in_(readable_sections(ctx)),
                    )
                    .with_for_update(of=t)
                )
            ).first()
            if row is None:
                raise Refused(
                    Problem(
                        AttachmentErrorCode.NOT_FOUND,
                        "No such attachment, or it is not visible to you.",
                        ["attachmentId"],
                    )
                )
            section = SituationSection(row.section)
            check_may_write(ctx, section)
            await session.execute(delete(t).where(t.c.id == attachment_id))
            at = await write_instant(session)
            audit.record(
                session,
                ctx,
                at=at,
                action="DELETE",
                entity_type=ATTACHMENT_ENTITY_TYPE[section],
                entity_id=row.id,
                household_id=row.household_id,
                changes=audit.field_changes(
                    _described(
                        row.file_name,
                        section,
                        row.content_type,
                        row.size,
                        row.sha256,
                        row.person_id,
                    ),
                    {},
                ),
            )
            if row.closed_at is None:
                await bump_activity(session, row.household_id, at)
    except Refused as refused:
        return refused.problems
    try:
        storage(ctx).delete(row.storage_key)
    except Exception:  # committed: the file can no longer be reached, `sweep` removes it
        log.exception("attachment %s: its file %s stays in storage", row.id, row.storage_key)
    return []


# Stored files no row points to, older than this, are leftovers (an upload stores its file
# just before its COMMIT: a younger one may be a commit in flight).
SWEEP_AFTER = 3600.0


async def sweep(engine: AsyncEngine, store: LocalStorage, older_than: float = SWEEP_AFTER) -> int:
    """Deletes the stored files that no attachment row points to (a deletion whose unlink
    failed, or a process that died between an upload's file and its COMMIT, or between a
    deletion's COMMIT and its unlink), and the temporary files of uploads, older than
    `older_than` seconds. Returns how many files it deleted."""
    async with engine.connect() as conn:
        known = set((await conn.execute(select(attachments_t.c.storage_key))).scalars())
    deadline = time.time() - older_than
    removed = 0
    stored = store.keys()
    for key in stored:
        if key not in known and store.modified(key) < deadline:
            store.delete(key)
            removed += 1
    for path in store.leftovers():
        if path.stat().st_mtime < deadline:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
