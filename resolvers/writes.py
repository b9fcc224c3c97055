"""What every mutation's write shares: the refusals (`Problem`, raised as `Refused` inside
the transaction so that it rolls back), the write's instant, locking the household it
writes to, and moving that household's last activity.

A domain's own rules stay in its module (`household_write`, `note_write`, ...); a helper
belongs here when writes of several domains call it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Household
from resolvers.context import Context


class SharedErrorCode(StrEnum):
    """The codes a shared helper refuses with. Every domain's error code enum has them: the
    schema converts a code by its name (`schema.errors.user_errors`)."""

    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class Problem:
    """One business refusal: a domain's code, a message for a person, the input field at
    fault, and what the client needs to retry (a version, a status, the changes since)."""

    code: StrEnum
    message: str
    field: list[str] | None = None
    current_version: int | None = None
    current_status: str | None = None
    # STALE_VERSION of a situation section: what was saved since (`situation_write`).
    changes: list[Any] | None = None


class Refused(Exception):
    """A business refusal: raised inside the transaction so that it rolls back."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else "refused")
        self.problems = list(problems)


async def write_instant(session: AsyncSession) -> datetime:
    """The instant this write records (validity bounds, `created_at`, audit events): the
    database's `clock_timestamp()`, read after the locks are held. Writes serialised by a
    lock so get increasing instants, whichever server process runs them (the request's
    clock, `Context.now`, may be frozen or moved by a test, and each process has its own),
    unlike the transaction's start time."""
    value: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    return value


async def lock_household(
    session: AsyncSession, ctx: Context, household_id: uuid.UUID, path: list[str]
) -> Household:
    """The household, locked, if the viewer may see it; NOT_FOUND otherwise.

    Threat stopped: a mutation that tells an out-of-scope household from a nonexistent one
    (by its answer, or by running more statements): the scope predicate is in the one
    statement that looks the id up, so both take the same path to the same NOT_FOUND."""
    household = await session.scalar(
        select(Household)
        .where(Household.id == household_id, ctx.scope.households(Household.__table__))
        .with_for_update()
    )
    if household is None:
        raise Refused(Problem(SharedErrorCode.NOT_FOUND, "No such household.", path))
    return household


async def bump_activity(session: AsyncSession, household_id: uuid.UUID, at: datetime) -> None:
    """The household's record changed at `at` (its last activity, which drives purges)."""
    await session.execute(
        update(Household).where(Household.id == household_id).values(last_activity_at=at)
    )
