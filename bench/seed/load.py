"""The load: the generator's rows sent to PostgreSQL with `COPY`.

Rows are built as tuples in Python and sent with `COPY` (`asyncpg`'s
`copy_records_to_table`), in chunks of at most `CHUNK_HOUSEHOLDS` households; the next
chunk is generated while the server digests the previous one. The client's memory peaks
at about 400 MB (two full chunks, from ~150,000 persons on).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import time
from collections.abc import Iterator
from typing import Final

import asyncpg

from bench.seed.history import _History
from bench.seed.households import _Households
from bench.seed.report import _status_count
from bench.seed.state import Record, _Chunk

CHUNK_HOUSEHOLDS: Final = 25_000  # per COPY (~57,000 persons, ~200 MB of rows in Python)
FIRST_CHUNK: Final = 500  # households: the first chunks are small, so the server starts soon
SEND_BUFFER: Final = 4 * 1024 * 1024  # bytes the kernel may queue for the server
SLICE_HOUSEHOLDS: Final = 100  # generated between two turns of the event loop (~4 ms)

# Columns sent by COPY, per table (a column not listed gets its default).
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "households": (
        "id",
        "reference",
        "territory_code",
        "last_activity_at",
        "closed_at",
        "protected",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "persons": (
        "id",
        "first_name",
        "last_name",
        "usage_name",
        "birth_date",
        "sex",
        "nationality",
        "phone",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "memberships": (
        "id",
        "person_id",
        "household_id",
        "relationship",
        "validity",
        "created_at",
        "created_by",
    ),
    "accompaniments": (
        "id",
        "household_id",
        "user_id",
        "organisation_id",
        "validity",
        "created_at",
    ),
    "demands": (
        "id",
        "household_id",
        "kind",
        "status",
        "created_at",
        "updated_at",
        "created_by",
        "version",
        "priority",
        "submitted_at",
        "night",
        "recommended_place_type",
        "commission_date",
    ),
    "demand_persons": ("demand_id", "person_id"),
    # Not `search`: PostgreSQL computes it (a generated column) from the title and body.
    "notes": (
        "id",
        "household_id",
        "title",
        "body",
        "pinned_until",
        "pinned_at",
        "pinned_by",
        "deleted_at",
        "deleted_by",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "note_persons": ("note_id", "person_id"),
    "evaluations": (
        "id",
        "household_id",
        "kind",
        "vulnerability_level",
        "criteria",
        "sections",
        "created_at",
        "created_by",
    ),
    "audit_events": (
        "id",
        "at",
        "actor_id",
        "action",
        "entity_type",
        "entity_id",
        "household_id",
        "changes",
        "request_id",
    ),
}
TABLES: Final = ("territories", "organisations", "users", *COLUMNS)

# Rows the generator writes per person, per table (at a million persons), for
# `bench.seed.indexes.defer` to compare with the rows a table already holds.
ROWS_PER_PERSON: Final = {
    "households": 0.44,
    "persons": 1.0,
    "memberships": 1.02,
    "accompaniments": 0.13,
    "demands": 0.66,
    "demand_persons": 1.5,
    "notes": 0.45,
    "note_persons": 0.17,
    "evaluations": 0.26,
    "audit_events": 1.83,
}


class _Generator(_Households, _History):
    """Builds the rows of one chunk of households at a time, from one seeded generator."""


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the load, as it was afterwards. The rows
    are tuples of strings, numbers and tuples, which hold no cycle, but each full collection
    walked every list of rows and every stint again, more each time as a chunk grew: at
    300,000 persons, more than half of the generation's time (13.9 s, 6.0 s without), on
    the Python core that also encodes the COPY."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _load(
    conn: asyncpg.Connection[asyncpg.Record],
    generator: _Generator,
    persons: int,
    rows: dict[str, int],
    busy: dict[str, float],
) -> None:
    """Generate chunks of households and COPY them, the next chunk being generated while
    the server digests the previous one (Python and PostgreSQL each keep a core busy)."""
    pending: asyncio.Task[None] | None = None
    left, households = persons, FIRST_CHUNK
    try:
        while left > 0:
            chunk = await _generate(generator, households, left, busy)
            households = min(CHUNK_HOUSEHOLDS, households * 2)
            left -= chunk.persons
            if pending is not None:
                await pending
            pending = asyncio.create_task(_copy(conn, chunk.rows, rows, busy))
            del chunk
        if pending is not None:
            await pending
    except BaseException:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        raise


async def _generate(
    generator: _Generator, households: int, persons_left: int, busy: dict[str, float]
) -> _Chunk:
    """One chunk, built `SLICE_HOUSEHOLDS` households at a time: between two slices, the
    event loop lets the COPY of the previous chunk send what the server is ready for."""
    chunk = _Chunk(rows={table: [] for table in COLUMNS})
    while len(chunk.ids) < households and chunk.persons < persons_left:
        tick = time.perf_counter()
        slice_ = min(SLICE_HOUSEHOLDS, households - len(chunk.ids))
        generator.households(chunk, slice_, persons_left)
        busy["generate"] += time.perf_counter() - tick
        await asyncio.sleep(0)
    for start in range(0, len(chunk.ids), SLICE_HOUSEHOLDS):
        tick = time.perf_counter()
        generator.history(chunk, start, min(start + SLICE_HOUSEHOLDS, len(chunk.ids)))
        busy["generate"] += time.perf_counter() - tick
        await asyncio.sleep(0)
    return chunk


async def _copy(
    conn: asyncpg.Connection[asyncpg.Record],
    chunk: dict[str, list[Record]],
    rows: dict[str, int],
    busy: dict[str, float],
) -> None:
    """COPY the rows of one chunk, table by table in foreign-key order."""
    tick = time.perf_counter()
    for table, records in chunk.items():
        if records:
            status = await conn.copy_records_to_table(
                table, records=records, columns=COLUMNS[table]
            )
            rows[table] += _status_count(status)
    busy["copy"] += time.perf_counter() - tick


def _deep_send_buffer(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Let the kernel queue up to 4 MB for the server (the usual limit, net.core.wmem_max):
    while Python generates the next slice of households, PostgreSQL keeps digesting."""
    transport = getattr(conn, "_transport", None)  # not public in asyncpg: best effort
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
