"""The households, their persons and memberships.

Households of 1 to 8 members (mostly 1 to 3, as in the demo data): single adults, couples,
single parents (mostly mothers), couples with children, extended families; ages that fit
the relationships (children at least 16 years younger than their parents, parents of the
reference person older...); created in chronological order (the heap follows time, as in
production) from 2022-01-03 to 2026-09, in Paris working hours; names drawn as
`bench.seed.names` says, each family its own. About 2% of persons lived in an earlier
household of the same chunk before (a closed membership ending when the open one begins,
with a relationship that fits their ages).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

import asyncpg

from bench.seed.draw import Picker, _randint
from bench.seed.names import ORIGIN_PICK, ORIGINS, first_name, last_name
from bench.seed.report import SeedError
from bench.seed.state import ID_COUNTER_LIMIT, Stint, _Chunk, _GeneratorState
from bench.seed.territories import _reference_range
from bench.seed.times import _pg_day, _pg_ts
from bench.seed.values import (
    CHILD,
    COUPLE,
    EXTENDED,
    FAMILY,
    FEMALE,
    ISOLATED,
    MALE,
    OTHER,
    OTHER_RELATIVE,
    PARENT,
    REFERENCE_PERSON,
    SIBLING,
    SINGLE_PARENT,
    SPOUSE,
    UNSPECIFIED,
)

# Household sizes, as in the demo data: mostly 1 to 3, up to 8 (mean 2.3).
SIZES: Final = Picker("12345678", weights=(46, 19, 14, 10, 6, 3, 1, 1))


class _Households(_GeneratorState):
    """The generator's first pass over a chunk: its households, persons and memberships."""

    def households(self, chunk: _Chunk, households: int, persons_left: int) -> None:
        """Add up to `households` households, their persons and memberships to `chunk`,
        without going over `persons_left` persons in it.

        Times are whole seconds since 1970 here; they go to asyncpg as PostgreSQL's own
        binary form, `(microseconds since 2000-01-01,)` (dates: `(days since 2000-01-01,)`),
        see `bench.seed.times`: encoding a `datetime` costs more than building the row."""
        rnd, new_id = self.rng.random, self.new_id
        if self.id_counter >= ID_COUNTER_LIMIT:  # a chunk takes far fewer ids than the margin
            raise SeedError("this call ran out of ordered ids: seed fewer persons per call")
        stop = len(chunk.ids) + households
        while len(chunk.ids) < stop and chunk.persons < persons_left:
            code = self.territory_pick(rnd)
            prefix, _, last, digits = _reference_range(code)
            number = self.counters[code]
            if number > last:
                raise SeedError(f"no bench household reference left for territory {code}")
            self.counters[code] = number + 1
            # Households come in chronological order, as in production (the heap follows
            # time): the day is the progress of the load, give or take a day.
            day = (self.span_days * self.done) // self.persons + _randint(rnd, -1, 1)
            created = self.base_ts + min(max(day, 0), self.span_days) * 86400
            created += _randint(rnd, 8 * 60, 19 * 60) * 60  # Paris working hours
            size = min(int(SIZES(rnd)), persons_left - chunk.persons)
            hid = new_id()
            stints, ref_born = self.compose(chunk, hid, size, created, self.staff[code].operator)
            chunk.ids.append(hid)
            chunk.ref_born.append(ref_born)
            chunk.times.append(created)
            chunk.members.append(stints)
            chunk.persons += size
            self.done += size
            chunk.codes.append(code)
            chunk.references.append(f"{prefix}{number:0{digits}d}")

    def compose(
        self, chunk: _Chunk, hid: str, size: int, created: int, actor: uuid.UUID
    ) -> tuple[list[Stint], int]:
        """The persons and open memberships of a new household of `size` members (some of
        whom lived in an earlier household of the chunk before); their stints here and the
        birth of the reference person (days since 2000-01-01)."""
        rnd = self.rng.random
        rels = _shape(size, rnd)
        has_child, has_spouse = CHILD in rels, SPOUSE in rels
        chunk.families.append(_family(size, has_spouse, has_child))
        female_odds = 0.85 if has_child and not has_spouse else 0.4 if has_spouse else 0.3
        ref_sex = FEMALE if rnd() < female_odds else MALE
        if has_child:
            ref_age = int(self.rng.triangular(20, 55, 33))
        else:
            ref_age = int(self.rng.triangular(18, 78, 34))
        origin = int(ORIGIN_PICK(rnd))
        family = last_name(rnd, origin)
        spouse_origin = origin if rnd() < 0.85 else int(ORIGIN_PICK(rnd))
        spouse_last = last_name(rnd, spouse_origin) if has_spouse else ""
        spouse_sex = MALE if ref_sex == FEMALE else FEMALE
        spouse_age = max(18, ref_age + _randint(rnd, -6, 8))
        youngest_parent = min(ref_age, spouse_age) if has_spouse else ref_age
        ref_usage: str | None = None
        spouse_usage: str | None = None
        children = family  # the name the children carry: the father's, when he is there
        if has_spouse and ref_sex == FEMALE:
            children = spouse_last
            ref_usage = spouse_last if rnd() < 0.5 else None
        elif has_spouse:
            spouse_usage = family if rnd() < 0.5 else None
        elif has_child and rnd() < 0.35:
            children = last_name(rnd, origin)  # the absent father's
        created_day = _pg_day(created)
        created_at = _pg_ts(created)
        open_validity = (created_at,)  # [created, infinity)
        p_rows, m_rows = chunk.rows["persons"], chunk.rows["memberships"]
        stints: list[Stint] = []
        ref_born = 0
        for rel in rels:
            usage: str | None = None
            person_origin = origin
            if rel == REFERENCE_PERSON:
                sex, age, last, usage = ref_sex, ref_age, family, ref_usage
            elif rel == SPOUSE:
                sex, age, last, usage = spouse_sex, spouse_age, spouse_last, spouse_usage
                person_origin = spouse_origin
            elif rel == CHILD:
                sex = FEMALE if rnd() < 0.5 else MALE
                age, last = _randint(rnd, 0, min(24, youngest_parent - 16)), children
                if has_spouse and age < 18 and family != spouse_last and rnd() < 0.1:
                    # a double name (since 2005): the father's, then the mother's
                    mother = family if ref_sex == FEMALE else spouse_last
                    last = f"{children} {mother}"
            elif rel == PARENT:
                sex = FEMALE if rnd() < 0.65 else MALE
                age, last = min(95, ref_age + _randint(rnd, 20, 35)), family
                if sex == FEMALE:  # the mother: her own name, her husband's in use
                    last, usage = last_name(rnd, origin), family if rnd() < 0.6 else None
            elif rel == SIBLING:
                sex = FEMALE if rnd() < 0.5 else MALE
                age, last = max(16, ref_age + _randint(rnd, -10, 10)), family
            elif rel == OTHER_RELATIVE:
                sex = FEMALE if rnd() < 0.5 else MALE
                age = _randint(rnd, 3, 60)
                last = family if rnd() < 0.5 else last_name(rnd, origin)
            else:  # hosted by a friend
                sex = FEMALE if rnd() < 0.4 else MALE
                age, person_origin = _randint(rnd, 18, 65), int(ORIGIN_PICK(rnd))
                last = last_name(rnd, person_origin)
            if rnd() < 0.01:
                sex = UNSPECIFIED
            born = created_day - age * 365 - age // 4 - int(rnd() * 365)  # days since 2000
            first = first_name(rnd, person_origin, sex, 2000 + int(born // 365.25))
            if rnd() < 0.04:  # typed in capitals
                last = last.upper()
            pid = self.new_id()
            since = created_at
            if chunk.ids and rnd() < 0.02:
                since = self._earlier_stint(chunk, pid, rel, age, born, created, actor) or since
            phone = None
            if age >= 16 and rnd() < 0.65:
                r = int(rnd() * 200_000_000)
                phone = f"0{6 + r % 2}{r // 2:08d}"
            nationality = None if rnd() < 0.05 else ORIGINS[person_origin].nationality(rnd)
            p_rows.append(
                (
                    pid,
                    first,
                    last,
                    usage,
                    (born,),
                    sex,
                    nationality,
                    phone,
                    since,
                    created_at,
                    actor,
                    1,
                )
            )
            m_rows.append((self.new_id(), pid, hid, rel, open_validity, created_at, actor))
            stints.append((pid, created, None))
            chunk.born[pid] = born
            if rel == REFERENCE_PERSON:
                ref_born = born
        return stints, ref_born

    def _earlier_stint(
        self,
        chunk: _Chunk,
        pid: str,
        rel: str,
        age: int,
        born: int,
        created: int,
        actor: uuid.UUID,
    ) -> tuple[int] | None:
        """Give the person an earlier membership, in a household of the chunk created
        before this one, that ends when this one begins (gap-free); its start, or None
        when no household fits."""
        rnd = self.rng.random
        born_ts = (born + 10_957 + 1) * 86400  # the day after the birth, in Unix seconds
        for _ in range(4):
            j = int(rnd() * len(chunk.ids))
            lower = max(chunk.times[j] + 3600, born_ts)
            if lower + 86400 > created:
                continue
            lower = int(lower + rnd() * (created - lower) * 0.8) // 60 * 60
            # The relationship there, from the ages of the mover and of its reference person.
            younger = (born - chunk.ref_born[j]) / 365.25  # years younger than that person
            minor = age - (created - lower) / (365.25 * 86400) < 18
            if younger >= 16:
                previous = CHILD if rnd() < 0.8 else OTHER_RELATIVE
            elif younger <= -16:
                previous = PARENT
            elif minor:
                previous = SIBLING if abs(younger) <= 12 else OTHER_RELATIVE
            elif rel == SPOUSE and rnd() < 0.5:
                previous = SPOUSE  # a separation
            else:
                previous = (SIBLING if abs(younger) <= 12 else OTHER_RELATIVE, OTHER)[rnd() < 0.5]
            since = _pg_ts(lower)
            chunk.rows["memberships"].append(
                (
                    self.new_id(),
                    pid,
                    chunk.ids[j],
                    previous,
                    asyncpg.Range(since, _pg_ts(created)),  # [lower, created)
                    since,
                    actor,
                )
            )
            chunk.members[j].append((pid, lower, created))
            self.movers += 1
            return since
        return None


def _shape(size: int, rnd: Callable[[], float]) -> list[str]:
    """The relationships of a new household's members: reference person first."""
    if size == 1:
        return [REFERENCE_PERSON]
    if size == 2:
        r = rnd()
        second = SPOUSE if r < 0.45 else CHILD if r < 0.9 else PARENT if r < 0.95 else SIBLING
        return [REFERENCE_PERSON, second]
    r = rnd()
    head = [REFERENCE_PERSON] if 0.55 <= r < 0.9 else [REFERENCE_PERSON, SPOUSE]
    tail = [(PARENT, SIBLING, OTHER_RELATIVE, OTHER)[int(rnd() * 4)]] if r >= 0.9 else []
    return head + [CHILD] * (size - len(head) - len(tail)) + tail


def _family(size: int, has_spouse: bool, has_child: bool) -> int:
    """The household's shape, for the family situation of its deep evaluations."""
    if size == 1:
        return ISOLATED
    if has_spouse:
        return FAMILY if has_child else COUPLE
    return SINGLE_PARENT if has_child else EXTENDED
