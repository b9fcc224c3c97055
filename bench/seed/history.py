"""The history of the households: accompaniments, demands, the persons they concern,
audit events, then their notes and evaluations (`bench.seed.notes`,
`bench.seed.evaluations`), and each household's row.

~30% of households are accompanied by an association; ~1.5 demands per household
(EMERGENCY in the evening with its night, INSERTION in office hours with a recommended
place type and a commission date, statuses spread as in the demo data), each concerning
every member present when it was made; an audit CREATE per household and per demand; ~1%
of households protected (violence). No orientations, stays or places: an ORIENTED or
IN_STAY demand has no orientation row behind it. A household's `last_activity_at` is its
latest demand, note (or deletion) or evaluation.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import orjson

from bench.seed.draw import Picker, _randint
from bench.seed.evaluations import _Evaluations
from bench.seed.notes import _Notes
from bench.seed.state import REQUEST_ID, _Chunk, _dashed
from bench.seed.times import _pg_day, _pg_ts
from bench.seed.values import DRAFT, EMERGENCY, INSERTION
from models.demo import STATUSES as DEMO_STATUSES
from models.structure import PlaceType

PRIORITIES: Final = Picker("1234", weights=(1, 3, 5, 2))  # 1 = most urgent; as the demo data
PLACE_TYPES: Final = Picker(  # recommended to insertion demands
    [PlaceType.INSERTION.value, PlaceType.STABILISATION.value, PlaceType.ADAPTED_HOUSING.value], 1.0
)
DEMAND_COUNTS: Final = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 4)  # mean 1.5
STATUS_WEIGHTS: Final = DEMO_STATUSES  # (kind, recent?) -> weights: those of the demo data
STATUSES: Final = {
    (kind.value, recent): Picker([s.value for s in weights], weights=list(weights.values()))
    for (kind, recent), weights in STATUS_WEIGHTS.items()
}


class _History(_Evaluations, _Notes):
    """The generator's second pass over a chunk, once every household has its members
    (earlier ones receive movers): the history of each household."""

    def history(self, chunk: _Chunk, start: int, stop: int) -> None:
        """Add the households `start` to `stop` of the chunk (once every household of the
        chunk has its members: earlier ones receive movers), their accompaniments,
        demands and audit events."""
        rnd, new_id = self.rng.random, self.new_id
        rows = chunk.rows
        h_rows, a_rows, d_rows, dp_rows, e_rows = (
            rows["households"],
            rows["accompaniments"],
            rows["demands"],
            rows["demand_persons"],
            rows["audit_events"],
        )
        base_ts, end_ts = self.base_ts, self.end_ts
        last_day = (end_ts - base_ts) // 86400
        dumps = orjson.dumps
        for i in range(start, stop):
            hid, created, members = chunk.ids[i], chunk.times[i], chunk.members[i]
            code = chunk.codes[i]
            staff = self.staff[code]
            actor = staff.operator
            at = _pg_ts(created)
            e_rows.append(
                (
                    new_id(),
                    at,
                    actor,
                    "CREATE",
                    "Household",
                    hid,
                    hid,
                    f'{{"territory": {{"after": "{code}", "before": null}}}}',
                    REQUEST_ID,
                )
            )
            protected = rnd() < 0.01  # (violence)
            accompanied: tuple[int, int, int] | None = None  # association, from, to
            if rnd() < 0.3:  # accompanied by an association, in person half of the time
                k = int(rnd() * len(staff.associations))
                since = created + _randint(rnd, 1, 20) * 86400 + _randint(rnd, 0, 8 * 60) * 60
                until = since + _randint(rnd, 30, 400) * 86400 if rnd() < 0.15 else end_ts
                lower = _pg_ts(since)
                validity: object = (
                    (lower,) if until >= end_ts else asyncpg.Range(lower, _pg_ts(until))
                )
                user = staff.social_workers[k] if rnd() < 0.5 else None
                a_rows.append((new_id(), hid, user, staff.associations[k], validity, lower))
                accompanied = (k, since, until)
            # The first demand within 3 days of the household's creation, the others later;
            # emergencies (the 115) in the evening, insertion demands in office hours.
            first_day = (created - base_ts) // 86400
            demands: list[tuple[int, str]] = []
            for n in range(DEMAND_COUNTS[int(rnd() * len(DEMAND_COUNTS))]):
                kind = EMERGENCY if rnd() < 0.4 else INSERTION
                day = first_day + (
                    _randint(rnd, 0, 3) if n == 0 else int(rnd() * (last_day - first_day))
                )
                minute = (
                    _randint(rnd, 17 * 60, 23 * 60 + 55)
                    if kind == EMERGENCY
                    else _randint(rnd, 9 * 60, 17 * 60 + 55)
                )
                when = base_ts + day * 86400 + minute * 60
                if when <= created:
                    when += 86400
                if when >= end_ts:
                    when = created + 600
                demands.append((when, kind))
            demands.sort()
            made: list[tuple[int, str, list[str]]] = []  # when, kind, concerned persons
            for when, kind in demands:
                recent = end_ts - when < (4 if kind == EMERGENCY else 45) * 86400
                status = STATUSES[(kind, recent)](rnd)
                did = new_id()
                concerned = [
                    pid
                    for pid, lower_ts, upper_ts in members
                    if lower_ts <= when and (upper_ts is None or when < upper_ts)
                ]
                day = _pg_day(when)
                at = _pg_ts(when)
                d_rows.append(
                    (
                        did,
                        hid,
                        kind,
                        status,
                        at,
                        at,
                        actor,
                        1,
                        int(PRIORITIES(rnd)),
                        None if status == DRAFT else at,
                        (day,) if kind == EMERGENCY else None,
                        None if kind == EMERGENCY else PLACE_TYPES(rnd),
                        None if kind == EMERGENCY else (day + 14,),
                    )
                )
                dp_rows += [(did, pid) for pid in concerned]
                made.append((when, kind, concerned))
                changes = {
                    "concernedPersons": {"after": sorted(map(_dashed, concerned)), "before": None},
                    "kind": {"after": kind, "before": None},
                    "status": {"after": status, "before": None},
                }
                e_rows.append(
                    (
                        new_id(),
                        at,
                        actor,
                        "CREATE",
                        "Demand",
                        did,
                        hid,
                        dumps(changes).decode(),
                        REQUEST_ID,
                    )
                )
            # Last activity: the latest demand, evaluation, note (or its deletion).
            last = max(
                demands[-1][0],
                self.evaluations(chunk, i, accompanied, made, protected),
                self.notes(chunk, i, accompanied, made),
            )
            created_at = _pg_ts(created)
            h_rows.append(
                (
                    hid,
                    chunk.references[i],
                    code,
                    _pg_ts(last),
                    None,
                    protected,
                    created_at,
                    created_at,
                    actor,
                    1,
                )
            )
