"""What the parts of the generator share: the rows of a chunk and what later households
need to know of it, the seeded draws, the ids and the audit events.

Ids. By default (`ids="ordered"`) ids are version-8 UUIDs that count: 16 bits drawn once
per call, a 32-bit counter, the rest drawn once per call. Each table's btree indexes then
grow at their right edge: at a million persons PostgreSQL's CPU is 63-70 s instead of 75 s
with `ids="random"`, version-4 UUIDs like the application's own, whose inserts land
anywhere in every index. The counter must come first: btree_gist's GiST penalty sees a
uuid as a double made of its first 64 bits, so ids that counted in their last bits (the
layout before) all cost the same to it, and the GiST indexes of memberships (the exclusion
constraint by person, the index by household) mixed every key in every subtree: a probe
read ~520 pages instead of ~5 (0.5-0.8 ms instead of 11-90 µs at a million persons), for
the application's queries as for the exclusion check of each insert. Sorting their keys
costs these indexes more (~10 s of PostgreSQL's CPU each at a million persons). Both
layouts come from `random.Random` seeded with `seed` and the starting references: the
output depends only on `seed` and on what the database already holds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import orjson

from bench.seed.draw import Picker
from bench.seed.report import Ids
from bench.seed.territories import TERRITORY_WEIGHTS, _Staff
from bench.seed.times import BASE, END

Record = tuple[object, ...]
ID_COUNTER_LIMIT: Final = 2**32 - 2**24  # ordered ids: the counter's 32 bits, less a margin
REQUEST_ID: Final = "bench-seed"
Stint = tuple[str, int, int | None]  # person id, from, to (None: open), in Unix seconds


@dataclass
class _Chunk:
    """The rows of one chunk, and what later households and demands need to know of it."""

    rows: dict[str, list[Record]]
    ids: list[str] = field(default_factory=list)  # household ids
    times: list[int] = field(default_factory=list)  # household creation, in Unix seconds
    members: list[list[Stint]] = field(default_factory=list)  # every stint, per household
    codes: list[str] = field(default_factory=list)  # territory, per household
    ref_born: list[int] = field(default_factory=list)  # reference person's birth (days)
    references: list[str] = field(default_factory=list)
    families: list[int] = field(default_factory=list)  # ISOLATED, COUPLE... per household
    born: dict[str, int] = field(default_factory=dict)  # person id -> birth (days)
    persons: int = 0


class _GeneratorState:
    """What the parts of the generator share: one seeded generator, the territories'
    staff and next references, the progress of the load, and the ids (see the module
    doc). `bench.seed.households` adds the households, `bench.seed.history` their
    history."""

    def __init__(
        self,
        rng: random.Random,
        staff: list[_Staff],
        counters: dict[str, int],
        persons: int,
        ids: Ids,
    ) -> None:
        self.rng = rng
        self.counters = counters  # territory code -> next reference number
        self.territory_pick = Picker(
            [s.code for s in staff], weights=[TERRITORY_WEIGHTS.get(s.code, 10) for s in staff]
        )
        self.staff = {s.code: s for s in staff}
        self.base_ts = int(BASE.timestamp())
        self.span_days = (END - BASE).days - 30
        self.end_ts = int(END.timestamp())
        self.persons, self.done = max(persons, 1), 0
        self.movers = 0
        # ids="random": version-4 UUIDs, drawn 65,536 at a time.
        self.id_pool, self.id_pos = "", 0
        # ids="ordered" (version 8, "custom"): 16 bits drawn once per call, a 32-bit counter
        # (from a random start below 2 ** 31), then 72 bits drawn once per call.
        tail = f"{rng.getrandbits(72):018x}"
        self.id_head = f"{rng.getrandbits(16):04x}"
        self.id_tail = f"8{tail[:3]}{8 + rng.getrandbits(2):x}{tail[3:]}"
        self.id_counter = rng.getrandbits(31)
        self.new_id = self.ordered_id if ids == "ordered" else self.random_id

    def random_id(self) -> str:
        """A random version-4 UUID from the seeded generator, as 32 hex digits (asyncpg
        takes them; `_dashed` gives the canonical form)."""
        pos = self.id_pos
        if pos >= len(self.id_pool):
            self.id_pool, pos = self.rng.randbytes(16 * 65_536).hex(), 0
        self.id_pos = pos + 32
        pool = self.id_pool
        return (
            pool[pos : pos + 12] + "4" + pool[pos + 13 : pos + 16] + "a" + pool[pos + 17 : pos + 32]
        )

    def ordered_id(self) -> str:
        """The next id of this call, greater than all the previous ones: a version-8 UUID
        that counts in its bits 16 to 47, the others drawn once per call.

        The counter must sit in the first 53 bits: btree_gist's penalty for uuid keys (the
        GiST indexes of memberships) only sees the first 64 bits, as a double. Ids that
        differ only further right all cost it nothing, the index then mixes every key in
        every subtree, and each probe by person or household (the exclusion check of every
        insert, the application's queries) reads hundreds of pages instead of a few."""
        self.id_counter += 1
        return f"{self.id_head}{self.id_counter:08x}{self.id_tail}"

    def event(
        self,
        at: tuple[int],
        actor: uuid.UUID,
        action: str,
        entity_type: str,
        entity_id: str,
        hid: str,
        changes: Mapping[str, object],
    ) -> Record:
        """An audit event, as the application writes it (`resolvers.audit.record`)."""
        return (
            self.new_id(),
            at,
            actor,
            action,
            entity_type,
            entity_id,
            hid,
            orjson.dumps(changes).decode(),
            REQUEST_ID,
        )


def _dashed(h: str) -> str:
    """The canonical text form of a UUID given as 32 hex digits."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
