"""updateHouseholdSituation: save one section of the household's situation (the screen
autosaves each section as it is filled in).

A save carries the section's version as the client read it (0 for a section never saved).
Under the household's lock, a different version now means a colleague saved the section
meanwhile: the save is refused with STALE_VERSION and the list of what they changed (from
the change log, masked like the change log), and nothing is overwritten. Otherwise the
patch's fields replace the stored ones (null clears a field, absent fields are kept), the
version goes up by one, and one audit event records each field's before and after.
A save that changes nothing writes nothing and keeps the version. The patch is checked and
cleaned first (`resolvers.situation_patch`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policy import SITUATION_CATEGORY, Access, SituationSection
from models import AuditEvent, Household, SituationRecord
from models.situation import ENTITY_TYPE, FIELDS, PERSON_SECTIONS, Kind
from resolvers import audit
from resolvers.context import Context
from resolvers.errors import CodedError, ErrorCode
from resolvers.household_write import open_membership
from resolvers.situation_patch import SituationErrorCode, clean_patch
from resolvers.writes import Problem, Refused, bump_activity, lock_household, write_instant


@dataclass
class Saved:
    section: SituationSection
    version: int = 0
    saved_at: datetime | None = None
    problems: list[Problem] = field(default_factory=list)


def check_may_write(ctx: Context, section: SituationSection) -> None:
    category = SITUATION_CATEGORY[section]
    if not ctx.authenticated.may(category, Access.WRITE):
        raise CodedError(
            ErrorCode.FORBIDDEN,
            f"You may not change this section (category {category.value}).",
        )


def owner_problems(
    section: SituationSection, person_id: uuid.UUID | None, codes: Any = None
) -> list[Problem]:
    """A person's section needs the person, a household's section none (`codes`: the
    error enum of the mutation, with PERSON_REQUIRED and PERSON_NOT_EXPECTED)."""
    codes = codes or SituationErrorCode
    if section in PERSON_SECTIONS and person_id is None:
        return [
            Problem(
                codes.PERSON_REQUIRED,
                f"The {section.value} section is kept per person: give `personId`.",
                ["personId"],
            )
        ]
    if section not in PERSON_SECTIONS and person_id is not None:
        return [
            Problem(
                codes.PERSON_NOT_EXPECTED,
                f"The {section.value} section is the household's: give no `personId`.",
                ["personId"],
            )
        ]
    return []


async def lock_owner(
    session: AsyncSession,
    ctx: Context,
    household_id: uuid.UUID,
    person_id: uuid.UUID | None,
    codes: Any = None,
) -> Household:
    """The household, locked, open, and (for a person's section) with the person as a
    current member; a refusal otherwise (`codes`: HOUSEHOLD_CLOSED, NOT_A_MEMBER)."""
    codes = codes or SituationErrorCode
    household = await lock_household(session, ctx, household_id, ["householdId"])
    if household.closed_at is not None:
        raise Refused(Problem(codes.HOUSEHOLD_CLOSED, "The household is closed.", ["householdId"]))
    if person_id is not None:
        membership = await open_membership(session, person_id)
        if membership is None or membership.household_id != household.id:
            raise Refused(
                Problem(
                    codes.NOT_A_MEMBER,
                    "The person is not a current member of the household.",
                    ["personId"],
                )
            )
    return household


@dataclass(frozen=True)
class FieldChange:
    """One field changed by a save since the version the client had."""

    field: str
    before: Any
    after: Any
    at: datetime
    actor_id: uuid.UUID | None
    version: int


async def changes_since(
    session: AsyncSession,
    ctx: Context,
    record: SituationRecord,
    version: int,
    through: uuid.UUID,
) -> list[FieldChange]:
    """What the saves after `version` changed, oldest first, as the change log shows them
    to this viewer (`audit.visible_changes`). Reading them is logged as an access through
    `through`, the household being edited: a person's section follows her, and a save made
    while she belonged to another household must not write, into that household's access
    log, who follows her now. A masked field is not listed: its name is
    what the mask hides (who may write a section may read its category, so only a field
    the policy does not know would be)."""
    after = AuditEvent.changes["version"]["after"].astext.cast(Integer)
    events = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_id == record.id, after > version)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    out: list[FieldChange] = []
    for event in events:
        shown = audit.visible_changes(ctx, event.entity_type, through, event.changes)
        saved = int(event.changes["version"]["after"])
        for name, change in shown.items():
            if name in ("version", audit.MASKED):
                continue
            out.append(
                FieldChange(
                    field=name,
                    before=change.get("before"),
                    after=change.get("after"),
                    at=event.at,
                    actor_id=event.actor_id,
                    version=saved,
                )
            )
    return out


async def _lock_record(
    session: AsyncSession,
    household_id: uuid.UUID,
    person_id: uuid.UUID | None,
    section: SituationSection,
) -> SituationRecord | None:
    owner = (
        SituationRecord.person_id == person_id
        if person_id is not None
        else SituationRecord.household_id == household_id
    )
    record: SituationRecord | None = await session.scalar(
        select(SituationRecord).where(owner, SituationRecord.section == section).with_for_update()
    )
    return record


async def update_situation(
    ctx: Context,
    household_id: uuid.UUID,
    person_id: uuid.UUID | None,
    section: SituationSection,
    patch: dict[str, Any],
    expected_version: int,
) -> Saved:
    check_may_write(ctx, section)
    problems = owner_problems(section, person_id)
    values, value_problems = clean_patch(section, patch, ctx.now.date())
    problems += value_problems
    if expected_version < 0:
        problems.append(
            Problem(
                SituationErrorCode.INVALID_INPUT,
                "expectedVersion is 0 or more.",
                ["expectedVersion"],
            )
        )
    if problems:
        return Saved(section, problems=problems)
    try:
        async with ctx.transaction() as session:
            household = await lock_owner(session, ctx, household_id, person_id)
            record = await _lock_record(session, household.id, person_id, section)
            current = record.version if record is not None else 0
            if current != expected_version:
                assert record is not None  # version 0 is the absent row's
                raise Refused(
                    Problem(
                        SituationErrorCode.STALE_VERSION,
                        f"Someone saved this section since you read it (version "
                        f"{expected_version}, now {current}): nothing was overwritten; "
                        "`changesSince` lists what they changed.",
                        ["expectedVersion"],
                        current_version=current,
                        changes=await changes_since(
                            session, ctx, record, expected_version, household.id
                        ),
                    )
                )
            stored = dict(record.data) if record is not None else {}
            flags = {
                name: household.protected
                for name, spec in FIELDS[section].items()
                if spec.kind is Kind.HOUSEHOLD_FLAG
            }
            before = {**stored, **flags}
            after = {**before, **values}
            after = {k: v for k, v in after.items() if v is not None}
            changes = audit.field_changes(before, after)
            if not changes:
                return Saved(section, current, record.saved_at if record else None)
            at = await write_instant(session)
            data = {k: v for k, v in after.items() if k not in flags}
            if record is None:
                record = SituationRecord(
                    id=uuid.uuid4(),
                    household_id=None if person_id else household.id,
                    person_id=person_id,
                    section=section,
                    data=data,
                    version=1,
                    saved_at=at,
                    saved_by=ctx.authenticated.user_id,
                )
                session.add(record)
            else:
                record.data = data
                record.version += 1
                record.saved_at = at
                record.saved_by = ctx.authenticated.user_id
            if "protected" in flags:
                household.protected = bool(after["protected"])
            await session.flush()
            audit.record(
                session,
                ctx,
                at=at,
                action="CREATE" if current == 0 else "UPDATE",
                entity_type=ENTITY_TYPE[section],
                entity_id=record.id,
                household_id=household.id,
                changes={
                    **changes,
                    "version": {"before": current or None, "after": record.version},
                },
            )
            await bump_activity(session, household.id, at)
            saved = Saved(section, record.version, at)
    except Refused as refused:
        return Saved(section, problems=refused.problems)
    return saved
