"""The on-call check of the two vital functions (DOMAIN.md): finding a person and creating
a demand, exercised for real against the database and rolled back, so that it leaves no
data behind. Answers timings only, never personal data."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import Role
from models import Demand, DemandKind, DemandPerson, DemandStatus, Household, Membership, Person

# Who may run the check with their own token: the SIAO's operators (the 115 at night)
# and the administrators; anyone else needs the deployment's secret header.
ON_CALL_ROLES = frozenset({Role.SIAO_OPERATOR, Role.ADMIN})


async def vital_check(engine: AsyncEngine) -> dict[str, Any]:
    """{"search": {"ok", "ms"}, "createDemand": {"ok", "ms"}}; raises nothing."""
    result: dict[str, Any] = {}
    async with engine.connect() as conn:
        started = time.perf_counter()
        try:
            key = func.siao_name_key(literal("martin dupont"))
            await conn.execute(select(Person.id).where(key.op("<%")(Person.name_key)).limit(20))
            result["search"] = {"ok": True}
        except Exception as exc:
            result["search"] = {"ok": False, "error": type(exc).__name__}
        result["search"]["ms"] = round((time.perf_counter() - started) * 1000, 2)
        await conn.rollback()

        started = time.perf_counter()
        transaction = await conn.begin()
        try:
            household = await conn.scalar(
                select(Household.id).where(Household.closed_at.is_(None)).limit(1)
            )
            if household is None:
                result["createDemand"] = {"ok": True, "skipped": "no household yet"}
            else:
                demand_id = uuid.uuid4()
                await conn.execute(
                    insert(Demand).values(
                        id=demand_id,
                        household_id=household,
                        kind=DemandKind.EMERGENCY,
                        status=DemandStatus.SUBMITTED,
                        night=func.current_date(),
                        submitted_at=func.now(),
                    )
                )
                await conn.execute(
                    insert(DemandPerson).from_select(
                        ["demand_id", "person_id"],
                        select(literal(demand_id), Membership.person_id).where(
                            Membership.household_id == household,
                            func.upper_inf(Membership.validity),
                        ),
                    )
                )
                # Run the deferred invariant checks now, as a commit would.
                await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
                result["createDemand"] = {"ok": True}
        except Exception as exc:
            result["createDemand"] = {"ok": False, "error": type(exc).__name__}
        finally:
            await transaction.rollback()
        result["createDemand"]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result
