"""The database a benchmark runs against: DATABASE_URL, or an embedded server of its own
(with pg_stat_statements preloaded if asked), migrated and loaded with the demo data.
Used by bench.throughput and bench.run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from migrations import upgrade
from models.demo import load_demo

STAT_STATEMENTS = "pg_stat_statements"


def plain_url(url: str) -> str:
    """The libpq form of a database URL that asyncpg wants (no `+asyncpg` driver)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


@dataclass(frozen=True, slots=True)
class Database:
    url: str
    kind: str  # "embedded" or "DATABASE_URL"
    postmaster: int | None  # the server's main process, when it runs on this machine
    name: str | None  # the database, to tell our backends on a shared server; None: ours
    stat_statements: bool  # pg_stat_statements is loaded and created in this database

    @property
    def dsn(self) -> str:
        return plain_url(self.url)


def _postmaster(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


async def _inspect(url: str) -> tuple[int | None, str, bool]:
    """(postmaster pid when the server runs here, database name, pg_stat_statements
    usable). Creates the extension in the database when the server has loaded it."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        name = await conn.fetchval("SELECT current_database()")
        preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        usable = STAT_STATEMENTS in [p.strip() for p in str(preload).split(",")]
        if usable:
            try:
                await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {STAT_STATEMENTS}")
            except asyncpg.PostgresError:
                usable = False  # not allowed to: the database time is then n/a
        postmaster = _parent(backend)  # while the backend lives
    finally:
        await conn.close()
    return postmaster, str(name), usable


def _parent(pid: int) -> int | None:
    """The parent of a process of this machine (a backend's is the postmaster)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[1])
    return None


def _embedded_with_stat_statements(folder: Path) -> Any:
    """An embedded server in `folder` (deleted at the end) with pg_stat_statements
    preloaded: started once to write the setting, then started again."""
    from models.embedded import start_embedded

    first = start_embedded(folder, cleanup="stop")
    try:
        asyncio.run(_preload(plain_url(first.url)))
    finally:
        first.stop()
    return start_embedded(folder, cleanup="delete")


async def _preload(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"ALTER SYSTEM SET shared_preload_libraries = '{STAT_STATEMENTS}'")
        await conn.execute(f"ALTER SYSTEM SET {STAT_STATEMENTS}.track_planning = on")
    finally:
        await conn.close()


@contextlib.contextmanager
def database(
    data_dir: Path, *, stat_statements: bool = False, prepare: Callable[[str], None] | None = None
) -> Iterator[Database]:
    """DATABASE_URL if set, else an embedded server deleted at the end (with
    pg_stat_statements preloaded if asked); migrated and loaded with the demo data
    (idempotent) either way, then `prepare(url)` if given."""
    url = os.environ.get("DATABASE_URL") or None
    embedded = None
    if url is None:
        if stat_statements:
            embedded = _embedded_with_stat_statements(data_dir / "embedded")
        else:
            from models.embedded import start_embedded

            embedded = start_embedded(data_dir / "embedded", cleanup="delete")
        url = embedded.url
    try:
        upgrade(url)
        summary = asyncio.run(load_demo(url))
        print(f"Demo data: {summary}", flush=True)
        if prepare is not None:
            prepare(url)
        postmaster, name, usable = asyncio.run(_inspect(url))
        if embedded is None:
            yield Database(url, "DATABASE_URL", postmaster, name, usable)
        else:
            pid = _postmaster(data_dir / "embedded" / "pgdata") or postmaster
            yield Database(url, "embedded", pid, None, usable)
    finally:
        if embedded is not None:
            embedded.stop()
