"""The SIAO work queue: demands waiting to be processed, most urgent or longest waiting
first, keyset-paginated, within the viewer's row scope."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import func, select, tuple_

from models import Demand, DemandKind, DemandStatus, Household
from models.demand import WAITING_STATUSES
from resolvers.context import Context
from resolvers.errors import bad_input
from resolvers.pagination import ResolvedPage, check_first

WAITING = WAITING_STATUSES


class QueueOrder(StrEnum):
    PRIORITY = "PRIORITY"
    WAITING_TIME = "WAITING_TIME"


def _cursor(row: Any, order: QueueOrder) -> str:
    key = [row.submitted_at.isoformat(), str(row.id)]
    if order is QueueOrder.PRIORITY:
        key.insert(0, row.priority)
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def _decode(cursor: str, order: QueueOrder) -> list[Any]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))  # depth-limited
        if order is QueueOrder.PRIORITY:
            priority = key[0]
            if not isinstance(priority, int) or not 1 <= priority <= 4:
                raise ValueError("not a priority")
            return [priority, _instant(key[1]), uuid.UUID(key[2])]
        return [_instant(key[0]), uuid.UUID(key[1])]
    except (binascii.Error, ValueError, TypeError, IndexError, KeyError, OverflowError):
        raise bad_input("Malformed cursor in `after`.", field="after") from None


def _instant(text: Any) -> datetime:
    """An aware instant in UTC (a far offset at year 1 or 9999 overflows here, not in SQL)."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("no time zone")
    return at.astimezone(UTC)


async def work_queue(
    ctx: Context,
    *,
    territory: str | None,
    kind: DemandKind | None,
    statuses: list[DemandStatus] | None,
    priority: int | None,
    waiting_since: datetime | None,
    order: QueueOrder,
    first: int | None,
    after: str | None,
) -> ResolvedPage:
    first = check_first(first, ctx.settings)
    conditions: list[Any] = [
        Demand.household_id.in_(ctx.scope.household_ids()),
        Demand.status.in_(statuses or WAITING),
        Demand.submitted_at.is_not(None),
    ]
    if territory is not None:
        conditions.append(
            Demand.household_id.in_(
                select(Household.id).where(Household.territory_code == territory)
            )
        )
    if kind is not None:
        conditions.append(Demand.kind == kind)
    if priority is not None:
        if not 1 <= priority <= 4:  # checked before SQL: the column is a smallint
            raise bad_input("`priority` is between 1 (most urgent) and 4.", field="priority")
        conditions.append(Demand.priority == priority)
    if waiting_since is not None:
        conditions.append(Demand.submitted_at <= waiting_since)
    columns = (
        [Demand.priority, Demand.submitted_at, Demand.id]
        if order is QueueOrder.PRIORITY
        else [Demand.submitted_at, Demand.id]
    )
    page_conditions = list(conditions)
    if after is not None:
        page_conditions.append(tuple_(*columns) > tuple_(*_decode(after, order)))
    stmt = select(Demand.__table__).where(*page_conditions).order_by(*columns).limit(first + 1)
    rows = list((await ctx.execute(stmt)).all())
    has_next = len(rows) > first
    rows = rows[:first]
    for row in rows:
        ctx.loaders.demand_by_id.prime(row.id, row)

    async def count() -> int:
        total = await ctx.execute(select(func.count()).select_from(Demand).where(*conditions))
        return int(total.scalar_one())

    return ResolvedPage(
        rows=rows, cursors=[_cursor(r, order) for r in rows], has_next=has_next, count=count
    )
