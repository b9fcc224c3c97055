"""Notes: create, edit and delete (soft; the author only), pin until a date and unpin.

Each runs in one transaction with its audit event. The note is locked (`FOR UPDATE`,
through the row scope: a note of a household the viewer cannot see, or a deleted one, is
NOT_FOUND). Editing carries the version read (STALE_VERSION otherwise, nothing
overwritten); pinning does not change the version: it is not an edit of the text, and a
colleague pinning the note must not make its author's pending edit stale.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Membership, Note, NotePerson
from models.note import BODY_MAX, TITLE_MAX
from resolvers import audit
from resolvers.context import Context
from resolvers.validation import clean_name, clean_text, text_problem
from resolvers.writes import Problem, Refused, bump_activity, lock_household, write_instant

PIN_MAX = timedelta(days=366)


class NoteErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    HOUSEHOLD_CLOSED = "HOUSEHOLD_CLOSED"
    NOT_AUTHOR = "NOT_AUTHOR"
    STALE_VERSION = "STALE_VERSION"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    INVALID_TITLE = "INVALID_TITLE"
    INVALID_BODY = "INVALID_BODY"
    INVALID_PIN_DATE = "INVALID_PIN_DATE"


UNSET: Any = object()


@dataclass(frozen=True)
class Written:
    note_id: uuid.UUID | None = None
    problems: list[Problem] | None = None


def _title_problem(title: str) -> list[Problem]:
    problem = text_problem(title, max_length=TITLE_MAX, required=True)
    if problem is None and any(ch in title for ch in "\n\r\t"):
        problem = "is one line"
    return [Problem(NoteErrorCode.INVALID_TITLE, f"title {problem}.", ["title"])] if problem else []


def _body_problem(body: str) -> list[Problem]:
    problem = text_problem(body, max_length=BODY_MAX, required=True)
    return [Problem(NoteErrorCode.INVALID_BODY, f"body {problem}.", ["body"])] if problem else []


def note_values(note: Note, concerned: list[uuid.UUID] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"title": note.title, "body": note.body}
    if concerned is not None:
        values["concernedPersons"] = sorted(str(p) for p in concerned)
    return values


async def create_note(
    ctx: Context, household_id: uuid.UUID, title: str, body: str, concerned: list[uuid.UUID]
) -> Written:
    problems = _title_problem(title) + _body_problem(body)
    if problems:
        return Written(problems=problems)
    wanted = list(dict.fromkeys(concerned))
    try:
        async with ctx.transaction() as session:
            household = await lock_household(session, ctx, household_id, ["householdId"])
            if household.closed_at is not None:
                raise Refused(
                    Problem(
                        NoteErrorCode.HOUSEHOLD_CLOSED, "The household is closed.", ["householdId"]
                    )
                )
            at = await write_instant(session)
            members = set(
                (
                    await session.scalars(
                        select(Membership.person_id).where(
                            Membership.household_id == household.id,
                            Membership.validity.contains(at),
                        )
                    )
                ).all()
            )
            outsiders = [p for p in wanted if p not in members]
            if outsiders:
                raise Refused(
                    Problem(
                        NoteErrorCode.NOT_A_MEMBER,
                        f"{len(outsiders)} of the concerned persons are not current members of "
                        "the household.",
                        ["concernedPersonIds"],
                    )
                )
            note = Note(
                id=uuid.uuid4(),
                household_id=household.id,
                title=clean_name(title),
                body=clean_text(body),
                created_at=at,
                updated_at=at,
                created_by=ctx.authenticated.user_id,
                version=1,
            )
            session.add(note)
            await session.flush()
            session.add_all([NotePerson(note_id=note.id, person_id=p) for p in wanted])
            _audit(session, ctx, note, at, "CREATE", {}, note_values(note, wanted))
            await bump_activity(session, household.id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(note_id=note.id)


async def _lock_note(session: AsyncSession, ctx: Context, note_id: uuid.UUID) -> Note:
    note = await session.scalar(
        select(Note)
        .where(
            Note.id == note_id,
            Note.deleted_at.is_(None),
            Note.household_id.in_(ctx.scope.household_ids()),
        )
        .with_for_update()
    )
    if note is None:
        raise Refused(Problem(NoteErrorCode.NOT_FOUND, "No such note.", ["noteId"]))
    return note


def _check_author(ctx: Context, note: Note, verb: str) -> None:
    if note.created_by is None or note.created_by != ctx.authenticated.user_id:
        raise Refused(
            Problem(
                NoteErrorCode.NOT_AUTHOR,
                f"Only the note's author may {verb} it; write a new note instead.",
                ["noteId"],
            )
        )


def _check_version(note: Note, expected: int | None) -> None:
    if expected is not None and note.version != expected:
        raise Refused(
            Problem(
                NoteErrorCode.STALE_VERSION,
                f"The note changed since you read it (version {expected}, now {note.version}); "
                "reload it and apply your change again.",
                ["expectedVersion"],
                current_version=note.version,
            )
        )


def _audit(
    session: AsyncSession,
    ctx: Context,
    note: Note,
    at: datetime,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    audit.record(
        session,
        ctx,
        at=at,
        action=action,
        entity_type="Note",
        entity_id=note.id,
        household_id=note.household_id,
        changes=audit.field_changes(before, after),
    )


async def update_note(
    ctx: Context, note_id: uuid.UUID, expected_version: int, title: Any, body: Any
) -> Written:
    problems = (_title_problem(title) if title is not UNSET else []) + (
        _body_problem(body) if body is not UNSET else []
    )
    if problems:
        return Written(problems=problems)
    try:
        async with ctx.transaction() as session:
            note = await _lock_note(session, ctx, note_id)
            _check_author(ctx, note, "edit")
            _check_version(note, expected_version)
            before = note_values(note)
            if title is not UNSET:
                note.title = clean_name(title)
            if body is not UNSET:
                note.body = clean_text(body)
            after = note_values(note)
            if before != after:
                at = await write_instant(session)
                note.version += 1
                note.updated_at = at
                _audit(session, ctx, note, at, "UPDATE", before, after)
                await bump_activity(session, note.household_id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(note_id=note_id)


async def delete_note(ctx: Context, note_id: uuid.UUID, expected_version: int | None) -> Written:
    try:
        async with ctx.transaction() as session:
            note = await _lock_note(session, ctx, note_id)
            _check_author(ctx, note, "delete")
            _check_version(note, expected_version)
            at = await write_instant(session)
            note.deleted_at = at
            note.deleted_by = ctx.authenticated.user_id
            note.updated_at = at
            _audit(session, ctx, note, at, "DELETE", {}, {"deletedAt": at})
            await bump_activity(session, note.household_id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(note_id=note_id)


async def pin_note(ctx: Context, note_id: uuid.UUID, until: datetime | None) -> Written:
    """Pin until `until` (None: unpin). Any writer of notes of the household may pin."""
    if until is not None:
        now = ctx.now
        if until.tzinfo is None:
            return Written(
                problems=[
                    Problem(
                        NoteErrorCode.INVALID_PIN_DATE,
                        "`until` needs a time zone (e.g. 2026-12-31T18:00:00+01:00).",
                        ["until"],
                    )
                ]
            )
        if not now < until <= now + PIN_MAX:
            return Written(
                problems=[
                    Problem(
                        NoteErrorCode.INVALID_PIN_DATE,
                        f"`until` is in the future, at most {PIN_MAX.days} days from now.",
                        ["until"],
                    )
                ]
            )
    try:
        async with ctx.transaction() as session:
            note = await _lock_note(session, ctx, note_id)
            if note.pinned_until != until:
                at = await write_instant(session)
                before = {"pinnedUntil": note.pinned_until}
                note.pinned_until = until
                note.pinned_at = at if until is not None else None
                note.pinned_by = ctx.authenticated.user_id if until is not None else None
                action = "PIN" if until is not None else "UNPIN"
                _audit(session, ctx, note, at, action, before, {"pinnedUntil": until})
                await bump_activity(session, note.household_id, at)
    except Refused as refused:
        return Written(problems=refused.problems)
    return Written(note_id=note_id)
